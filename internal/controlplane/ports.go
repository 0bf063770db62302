package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
)

// Ports are the loopback ports of a cluster's components. They are chosen
// on first start and saved, because kubeconfigs and launch templates
// written for nodes point at the API server's port.
type Ports struct {
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
}

func (p Ports) named() []struct {
	name string
	port int
} {
	return []struct {
		name string
		port int
	}{
		{"etcd client", p.EtcdClient}, {"etcd peer", p.EtcdPeer}, {"kube-apiserver", p.APIServer},
		{"kube-controller-manager", p.ControllerManager}, {"kube-scheduler", p.Scheduler},
	}
}

// validate checks that every port is in range and no two are equal.
func (p Ports) validate() error {
	var errs []error
	seen := map[int]string{}
	for _, n := range p.named() {
		if n.port < 1 || n.port > 65535 {
			errs = append(errs, fmt.Errorf("%s port %d is out of range 1-65535", n.name, n.port))
			continue
		}
		if other, dup := seen[n.port]; dup {
			errs = append(errs, fmt.Errorf("%s and %s share port %d", other, n.name, n.port))
		}
		seen[n.port] = n.name
	}
	return errors.Join(errs...)
}

// loadOrChoosePorts reads the saved ports at path, or picks free loopback
// ports and saves them. Saved ports must all be free now: a taken port is
// an error naming the component, since changing it would break every
// kubeconfig that points at it.
func loadOrChoosePorts(path string) (Ports, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		p, err := choosePorts()
		if err != nil {
			return Ports{}, err
		}
		data, _ := json.MarshalIndent(p, "", "  ")
		return p, writeFileAtomic(path, append(data, '\n'), 0o644)
	}
	if err != nil {
		return Ports{}, fmt.Errorf("read saved ports: %w", err)
	}
	var p Ports
	if err := json.Unmarshal(data, &p); err != nil {
		return Ports{}, fmt.Errorf("saved ports %s are corrupt: %w", path, err)
	}
	if err := p.validate(); err != nil {
		return Ports{}, fmt.Errorf("saved ports %s: %w", path, err)
	}
	for _, n := range p.named() {
		if err := checkPortFree(n.port); err != nil {
			return Ports{}, fmt.Errorf("%s port %d (saved in %s) is taken by another process: %w", n.name, n.port, path, err)
		}
	}
	return p, nil
}

func choosePorts() (Ports, error) {
	var ports [5]int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	// Hold every listener until all are chosen so no two are the same.
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("choose a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{EtcdClient: ports[0], EtcdPeer: ports[1], APIServer: ports[2], ControllerManager: ports[3], Scheduler: ports[4]}, nil
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}
