package userdata

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cloudInitSchema runs `cloud-init schema --config-file <doc>` (cloud-init
// 22.4 and later; it does not read gzip, so doc must be uncompressed) and
// returns its combined output and whether it accepted the document.
func cloudInitSchema(t *testing.T, doc []byte) (string, bool) {
	t.Helper()
	bin, err := exec.LookPath("cloud-init")
	if err != nil {
		t.Fatalf("cloud-init is not on PATH (%v): install it with `apt-get install cloud-init` "+
			"so user-data is checked against cloud-init's own schema", err)
	}
	path := filepath.Join(t.TempDir(), "user-data.yaml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "schema", "--config-file", path).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("cloud-init schema timed out: %s", out)
	}
	return string(out), err == nil
}

func TestCloudInitSchema(t *testing.T) {
	large := testInput(t, ProfileKubeadm)
	large.RegistryAuth = manyRegistries(300, func(int) string { return "a2VscDpzYW1lLXBhc3N3b3Jk" })
	inputs := map[string]Input{"kubeadm-large": large}
	for _, p := range Profiles() {
		inputs[string(p)] = testInput(t, p)
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := Render(in)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if name == "kubeadm-large" && !r.Gzipped {
				t.Fatalf("large input was not gzipped (%d bytes)", len(r.Document))
			}
			out, ok := cloudInitSchema(t, r.Document)
			if !ok || !strings.Contains(out, "Valid cloud-config") {
				t.Errorf("cloud-init schema rejected the %s document:\n%s\ndocument:\n%s", name, out, r.Document)
			}
		})
	}
	t.Run("rejects invalid", func(t *testing.T) {
		t.Parallel()
		// Guards against a schema check that accepts anything.
		out, ok := cloudInitSchema(t, []byte("#cloud-config\nwrite_files: 3\nruncmd: {a: b}\n"))
		if ok {
			t.Errorf("cloud-init schema accepted an invalid document:\n%s", out)
		}
	})
}
