package controlplane_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/controlplane"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestCheckBinariesNamesMissing(t *testing.T) {
	dir := t.TempDir()
	for _, b := range []string{"etcd", "kubectl"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Present but not executable counts as missing.
	if err := os.WriteFile(filepath.Join(dir, "kube-scheduler"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := controlplane.CheckBinaries(dir)
	if err == nil {
		t.Fatal("want an error")
	}
	testenv.ErrorContains(t, err, "kube-apiserver", "kube-controller-manager", "kube-scheduler", "make controlplane")
	if strings.Contains(err.Error(), "etcd ") || strings.Contains(err.Error(), "kubectl") {
		t.Errorf("error %q names binaries that are present", err)
	}
}
