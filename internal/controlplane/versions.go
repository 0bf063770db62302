package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
)

// Versions of the control-plane binaries kelp builds and runs locally
// (hack/controlplane pins the same versions).
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
)

// BinDirEnv overrides the directory holding the control-plane binaries.
const BinDirEnv = "KELP_CONTROLPLANE_DIR"

// Binaries are the executables `make controlplane` builds.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}

// DefaultBinDir returns where `make controlplane` puts the binaries:
// $KELP_CONTROLPLANE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/kelp/controlplane/<versions>.
func DefaultBinDir() (string, error) {
	if d := os.Getenv(BinDirEnv); d != "" {
		return d, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the control-plane binaries: no $%s, $XDG_CACHE_HOME or home directory: %w", BinDirEnv, err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kelp", "controlplane", KubernetesVersion+"-etcd"+EtcdVersion[1:]), nil
}

// CheckBinaries returns an error naming every missing binary in dir and
// the command that builds them.
func CheckBinaries(dir string) error {
	var missing []string
	for _, b := range Binaries {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control-plane binaries missing in %s: %v; run `make controlplane` to build them (or set $%s)", dir, missing, BinDirEnv)
	}
	return nil
}
