package userdata

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// readTestdata returns testdata/name or fails the test.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return data
}

// testInput returns a complete, valid input for profile, built from the
// fixed testdata kubeconfig and registry credentials.
func testInput(t *testing.T, profile Profile) Input {
	t.Helper()
	in := Input{
		Profile:             profile,
		ClusterName:         "demo",
		Pool:                "workers",
		BootstrapKubeconfig: readTestdata(t, "bootstrap-kubeconfig.yaml"),
		RegistryAuth:        readTestdata(t, "registry-auth.json"),
	}
	if profile == ProfileOpenShift311 {
		in.Region = "us-east-1"
		return in
	}
	in.Labels = map[string]string{
		"example.com/tier":             "batch",
		"node.kubernetes.io/lifecycle": "spot",
	}
	in.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	return in
}

func TestGolden(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(string(p), func(t *testing.T) {
			r, err := Render(testInput(t, p))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if r.Gzipped || !bytes.Equal(r.Data, r.Document) {
				t.Fatalf("a small document must not be gzipped (%d bytes)", len(r.Document))
			}
			path := filepath.Join("testdata", string(p)+".golden")
			if *update {
				if err := os.WriteFile(path, r.Data, 0o644); err != nil {
					t.Fatalf("update golden: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test -run TestGolden -update to create it): %v", err)
			}
			if !bytes.Equal(r.Data, want) {
				t.Errorf("%s differs from the rendered output (run go test -run TestGolden -update and review the diff)\ngot:\n%s", path, r.Data)
			}
			again, err := Render(testInput(t, p))
			if err != nil || !bytes.Equal(again.Data, r.Data) {
				t.Errorf("rendering twice gives different output (err %v)", err)
			}
		})
	}
}
