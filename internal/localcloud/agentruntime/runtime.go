// Package agentruntime boots the local cloud's instances as in-process
// node agents. Booting an instance means what cloud-init and the kubelet
// do on EC2: the user-data's write_files land in the instance's own root
// directory, the instance-identity document (the stand-in for instance
// metadata) is written next to them, runcmd entries are logged (not
// executed), and a nodeagent.Agent starts with that root. Stopping an
// instance cancels its agent abruptly, as a terminated instance would.
package agentruntime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/nodeagent"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Runtime implements localcloud.Runtime with node agents.
type Runtime struct {
	// Dir holds one root directory per instance (<Dir>/<instance-id>).
	Dir string
	// Logger receives boot logs and the agents' logs.
	Logger *slog.Logger
	// Tuning is passed to every agent.
	Tuning nodeagent.Tuning

	mu     sync.Mutex
	agents map[string]*running
}

type running struct {
	agent  *nodeagent.Agent
	cancel context.CancelFunc
	done   chan struct{}
}

var _ localcloud.Runtime = (*Runtime)(nil)

// stopWait bounds how long Stop waits for an agent to return.
const stopWait = 10 * time.Second

// Boot applies the user-data to the instance's root and starts its agent.
// It returns once the agent runs; the agent joins the cluster on its own.
// User-data that is not a cloud-config document, or that lacks what the
// local node agent reads (the `local` profile), fails the boot.
func (r *Runtime) Boot(ctx context.Context, inst localcloud.InstanceInfo, userData []byte) error {
	log := r.logger().With("instance", inst.ID)
	root, err := r.rootOf(inst.ID)
	if err != nil {
		return err
	}
	cfg, err := userdata.Decode(userData)
	if err != nil {
		return fmt.Errorf("boot %s: user-data: %w", inst.ID, err)
	}
	if err := writeFiles(root, cfg.WriteFiles); err != nil {
		return fmt.Errorf("boot %s: %w", inst.ID, err)
	}
	for _, c := range cfg.RunCmd {
		log.Debug("runcmd not executed locally; the node agent stands in for it", "cmd", c)
	}
	if err := nodeagent.WriteIdentity(root, identityOf(inst)); err != nil {
		return fmt.Errorf("boot %s: %w", inst.ID, err)
	}
	agent, err := nodeagent.New(nodeagent.Config{Root: root, Logger: r.logger(), Tuning: r.Tuning})
	if err != nil {
		return fmt.Errorf("boot %s: %w", inst.ID, err)
	}
	r.Stop(inst.ID) // a reboot of the same id replaces the old agent
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	run := &running{agent: agent, cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	if r.agents == nil {
		r.agents = map[string]*running{}
	}
	r.agents[inst.ID] = run
	r.mu.Unlock()
	go func() {
		defer close(run.done)
		if err := agent.Run(actx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("node agent stopped", "err", err)
		}
	}()
	// The cloud's context ends when it closes: stop the agent then too.
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-run.done:
		}
	}()
	log.Info("instance booted", "node", inst.PrivateDNSName, "ip", inst.PrivateIP, "type", inst.InstanceType)
	return nil
}

// Stop cancels the instance's agent without cleanup: its Node stays and
// goes NotReady, as when an EC2 instance is terminated.
func (r *Runtime) Stop(instanceID string) {
	r.mu.Lock()
	run := r.agents[instanceID]
	delete(r.agents, instanceID)
	r.mu.Unlock()
	if run == nil {
		return
	}
	run.cancel()
	select {
	case <-run.done:
	case <-time.After(stopWait):
		r.logger().Warn("node agent did not stop in time", "instance", instanceID)
	}
}

// Agent returns the running agent of an instance, for tests and status.
func (r *Runtime) Agent(instanceID string) (*nodeagent.Agent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.agents[instanceID]
	if !ok {
		return nil, false
	}
	return run.agent, true
}

// Running returns how many agents run.
func (r *Runtime) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.agents)
}

func (r *Runtime) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

func (r *Runtime) rootOf(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return "", fmt.Errorf("boot: instance id %q is not a valid directory name", id)
	}
	root := filepath.Join(r.Dir, id)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("boot %s: create root: %w", id, err)
	}
	return root, nil
}

func identityOf(inst localcloud.InstanceInfo) nodeagent.InstanceIdentity {
	return nodeagent.InstanceIdentity{
		InstanceID:       inst.ID,
		InstanceType:     inst.InstanceType,
		AvailabilityZone: inst.AvailabilityZone,
		Region:           inst.Region,
		PrivateIP:        inst.PrivateIP,
		PrivateDNSName:   inst.PrivateDNSName,
		Lifecycle:        string(inst.CapacityType),
		ImageID:          inst.ImageID,
	}
}

// writeFiles applies cloud-init write_files under root. Paths must be
// absolute and may not climb out of root.
func writeFiles(root string, files []userdata.File) error {
	for _, f := range files {
		clean := path.Clean(f.Path)
		if !path.IsAbs(f.Path) || clean != f.Path || strings.Contains(f.Path, "..") {
			return fmt.Errorf("write_files: path %q must be absolute and clean", f.Path)
		}
		data, err := f.Data()
		if err != nil {
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
		mode, err := f.Mode()
		if err != nil {
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
		dst := filepath.Join(root, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
		if err := os.Chmod(dst, mode); err != nil { // WriteFile keeps an existing file's mode
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
	}
	return nil
}
