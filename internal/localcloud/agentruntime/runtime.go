// Package agentruntime boots the local cloud's instances as in-process
// node agents. Booting an instance means what cloud-init and the kubelet
// do on EC2: the user-data's write_files land in the instance's own root
// directory, the instance-identity document (the stand-in for instance
// metadata) is written next to them, runcmd entries are logged (not
// executed), and a nodeagent.Agent starts with that root, restarted after
// RestartDelay whenever it exits on its own, as systemd restarts the
// kubelet. Stopping an instance cancels its agent abruptly, as a
// terminated instance would.
package agentruntime

import (
	"context"
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
	// Join runs the identity join of agents whose user-data holds a join
	// config (identity-mode pools); nodeagent.Config.Join.
	Join nodeagent.Joiner
	// RestartDelay is how long after an agent exits on its own (its client
	// CSR was denied, say) a new one starts on the same root, as systemd
	// restarts the kubelet (Restart=always, RestartSec); default
	// DefaultRestartDelay.
	RestartDelay time.Duration

	mu     sync.Mutex
	agents map[string]*running
}

// DefaultRestartDelay is Runtime.RestartDelay's default: the RestartSec of
// the kubelet's systemd unit as kubeadm's packages install it.
const DefaultRestartDelay = 10 * time.Second

type running struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex // guards agent and restarts
	agent    *nodeagent.Agent
	restarts int
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
	acfg := nodeagent.Config{Root: root, Logger: r.logger(), Tuning: r.Tuning, Join: r.Join}
	agent, err := nodeagent.New(acfg)
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
		r.supervise(actx, run, acfg, log)
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

// supervise runs the instance's agent until ctx ends, as systemd runs the
// kubelet with Restart=always: when Run returns on its own (it cannot
// join: its client CSR was denied), a new agent starts on the same root
// after RestartDelay. The new agent still has no client certificate, so it
// bootstraps again with the bootstrap kubeconfig and the same bootstrap key
// (as the kubelet keeps kubelet-client.key.tmp): its CSR has the same
// name, so it finds its denied CSR again until that CSR is deleted
// (kube-controller-manager's cleaner deletes denied CSRs after an hour),
// and then files a new one.
func (r *Runtime) supervise(ctx context.Context, run *running, cfg nodeagent.Config, log *slog.Logger) {
	delay := r.RestartDelay
	if delay <= 0 {
		delay = DefaultRestartDelay
	}
	for {
		run.mu.Lock()
		agent := run.agent
		run.mu.Unlock()
		err := agent.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Error("node agent exited; restarting", "err", err, "restartIn", delay, "restarts", run.restartCount())
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			next, err := nodeagent.New(cfg)
			if err == nil {
				run.mu.Lock()
				run.agent, run.restarts = next, run.restarts+1
				run.mu.Unlock()
				log.Info("node agent restarted", "restarts", run.restartCount())
				break
			}
			log.Error("node agent cannot start; retrying", "err", err, "restartIn", delay)
		}
	}
}

func (run *running) restartCount() int {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.restarts
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

// Agent returns the instance's current agent (the latest after restarts),
// for tests and status.
func (r *Runtime) Agent(instanceID string) (*nodeagent.Agent, bool) {
	r.mu.Lock()
	run, ok := r.agents[instanceID]
	r.mu.Unlock()
	if !ok {
		return nil, false
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.agent, true
}

// Restarts returns how many times the instance's agent was restarted
// since the instance booted; ok is false for an instance not running.
func (r *Runtime) Restarts(instanceID string) (n int, ok bool) {
	r.mu.Lock()
	run, ok := r.agents[instanceID]
	r.mu.Unlock()
	if !ok {
		return 0, false
	}
	return run.restartCount(), true
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
