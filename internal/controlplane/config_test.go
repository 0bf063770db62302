package controlplane

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestPortsSavedAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.json")
	first, err := loadOrChoosePorts(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.validate(); err != nil {
		t.Fatalf("chosen ports invalid: %v", err)
	}
	second, err := loadOrChoosePorts(path)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("ports changed across restarts: %+v then %+v", first, second)
	}
}

func TestPortsTakenIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.json")
	ports, err := loadOrChoosePorts(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports.APIServer))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = loadOrChoosePorts(path)
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver port "+strconv.Itoa(ports.APIServer)) || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("err = %v, want one naming the kube-apiserver port as taken", err)
	}
}

func TestPortsBadFile(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"not json", "{", "corrupt"},
		{"out of range", `{"etcdClient":1,"etcdPeer":2,"apiServer":70000,"controllerManager":4,"scheduler":5}`, "kube-apiserver port 70000 is out of range"},
		{"duplicate", `{"etcdClient":4001,"etcdPeer":4002,"apiServer":4001,"controllerManager":4004,"scheduler":4005}`, "share port 4001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ports.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadOrChoosePorts(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			data, _ := os.ReadFile(path)
			if string(data) != tt.content {
				t.Error("a bad ports file was overwritten")
			}
		})
	}
}

func TestLockDirRefusesSecondHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDir(dir)
	if err == nil || !strings.Contains(err.Error(), "in use by another kelp process") || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("err = %v, want in-use error naming pid %d", err, os.Getpid())
	}
	first.Close()
	again, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock not released on close: %v", err)
	}
	again.Close()
}

// TestComponentLimits keeps the local control plane's raised limits on
// the command lines and in kube-scheduler's config file, where
// kube-scheduler reads its client's QPS.
func TestComponentLimits(t *testing.T) {
	c := &Cluster{cfg: Config{Dir: "/c", Name: "c"}, pki: &PKI{Dir: "/c/pki"}}
	has := func(args []string, want string) {
		t.Helper()
		if !slices.Contains(args, want) {
			t.Errorf("args lack %q: %v", want, args)
		}
	}
	has(c.apiServerArgs(), "--max-requests-inflight=800")
	has(c.apiServerArgs(), "--max-mutating-requests-inflight=400")
	has(c.controllerManagerArgs(), "--kube-api-qps=300")
	has(c.controllerManagerArgs(), "--kube-api-burst=600")
	has(c.schedulerArgs(), "--config=/c/scheduler.yaml")
	for _, a := range c.schedulerArgs() {
		if strings.HasPrefix(a, "--kubeconfig") || strings.HasPrefix(a, "--leader-elect") {
			t.Errorf("scheduler flag %q is ignored beside --config", a)
		}
	}
	var cfg struct {
		Kind             string `json:"kind"`
		ClientConnection struct {
			Kubeconfig string  `json:"kubeconfig"`
			QPS        float64 `json:"qps"`
			Burst      int     `json:"burst"`
		} `json:"clientConnection"`
		LeaderElection struct {
			LeaderElect *bool `json:"leaderElect"`
		} `json:"leaderElection"`
	}
	if err := yaml.Unmarshal([]byte(schedulerConfig("/c/scheduler.kubeconfig")), &cfg); err != nil {
		t.Fatal(err)
	}
	cc := cfg.ClientConnection
	if cfg.Kind != "KubeSchedulerConfiguration" || cc.Kubeconfig != "/c/scheduler.kubeconfig" || cc.QPS != 500 || cc.Burst != 1000 ||
		cfg.LeaderElection.LeaderElect == nil || *cfg.LeaderElection.LeaderElect {
		t.Errorf("scheduler config %+v", cfg)
	}
}
