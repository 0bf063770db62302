package userdata

import (
	"bytes"
	"strings"
	"testing"
)

func TestReplaceBootstrapToken(t *testing.T) {
	for _, profile := range Profiles() {
		t.Run(string(profile), func(t *testing.T) {
			r, err := Render(testInput(t, profile))
			if err != nil {
				t.Fatal(err)
			}
			before, err := Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			path, oldToken, err := BootstrapToken(before)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ReplaceBootstrapToken(r.Data, "zzzzzz.zzzzzzzzzzzzzzzz")
			if err != nil {
				t.Fatal(err)
			}
			after, err := Decode(out.Data)
			if err != nil {
				t.Fatal(err)
			}
			gotPath, newToken, err := BootstrapToken(after)
			if err != nil || gotPath != path || newToken != "zzzzzz.zzzzzzzzzzzzzzzz" {
				t.Fatalf("after replace: %s %s %v", gotPath, newToken, err)
			}
			if strings.Contains(string(out.Document), oldToken) {
				t.Error("old token still in the document")
			}
			// Every other file is unchanged.
			for i, f := range before.WriteFiles {
				if f.Path == path {
					continue
				}
				a, _ := f.Data()
				b, _ := after.WriteFiles[i].Data()
				if after.WriteFiles[i].Path != f.Path || !bytes.Equal(a, b) || after.WriteFiles[i].Permissions != f.Permissions {
					t.Errorf("file %s changed", f.Path)
				}
			}
		})
	}
	if _, err := ReplaceBootstrapToken([]byte("#cloud-config\nruncmd: []\n"), "zzzzzz.zzzzzzzzzzzzzzzz"); err == nil {
		t.Error("user-data without a bootstrap kubeconfig accepted")
	}
	if _, err := ReplaceBootstrapToken(nil, "not-a-token"); err == nil {
		t.Error("malformed token accepted")
	}
}
