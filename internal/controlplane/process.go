package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process supervises one control-plane binary: it starts it with its
// output appended to a log file, restarts it with backoff when it exits on
// its own, and stops it with SIGTERM, then SIGKILL after a grace period.
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	log     *slog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd exits
	restarts int

	stopOnce sync.Once
	stopCh   chan struct{} // closed when stop is called

	done chan struct{} // closed when supervision ends
}

// Restart backoff for a component that exits on its own.
const (
	restartBackoffMin = time.Second
	restartBackoffMax = 30 * time.Second
)

func newProcess(name, path, logPath string, args []string, log *slog.Logger) *process {
	return &process{name: name, path: path, args: args, logPath: logPath, log: log.With("component", name), done: make(chan struct{}), stopCh: make(chan struct{})}
}

// start launches the binary and begins supervising it.
func (p *process) start() error {
	if err := p.launch(); err != nil {
		return err
	}
	go p.supervise()
	return nil
}

// errStopped is returned by launch once stop has been called.
var errStopped = errors.New("stopped")

func (p *process) launch() error {
	// Holding mu while starting serializes launch against stop: a process
	// is never started after stop has collected the one to kill.
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stopCh:
		return errStopped
	default:
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	fmt.Fprintf(logFile, "==== kelp: starting %s at %s\n", p.name, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true, // Ctrl-C in a terminal reaches kelp only; kelp stops the children in order.
		// If kelp dies without stopping it, the kernel kills the child: no orphans.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s (%s): %w", p.name, p.path, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.log.Debug("process exited", "pid", cmd.Process.Pid, "err", err)
		close(exited)
	}()
	p.log.Info("started", "pid", cmd.Process.Pid, "log", p.logPath)
	return nil
}

// supervise restarts the process whenever it exits without being asked to.
func (p *process) supervise() {
	defer close(p.done)
	backoff := restartBackoffMin
	for {
		p.mu.Lock()
		exited, started := p.exited, time.Now()
		p.mu.Unlock()
		select {
		case <-exited:
		case <-p.stopCh:
			return
		}
		select {
		case <-p.stopCh:
			return
		default:
		}
		if time.Since(started) > 2*restartBackoffMax {
			backoff = restartBackoffMin
		}
		p.log.Error("exited unexpectedly; restarting", "after", backoff, "logTail", string(p.logTail(2048)))
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-p.stopCh:
			timer.Stop()
			return
		}
		backoff = min(2*backoff, restartBackoffMax)
		p.mu.Lock()
		p.restarts++
		p.mu.Unlock()
		if err := p.launch(); err != nil {
			if !errors.Is(err, errStopped) {
				p.log.Error("restart failed", "err", err)
			}
			return
		}
	}
}

// running reports whether the current process is alive.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// sends SIGKILL. It returns once the process is gone.
func (p *process) stop(ctx context.Context, grace time.Duration) error {
	p.mu.Lock()
	p.stopOnce.Do(func() { close(p.stopCh) })
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	p.log.Warn("did not exit after SIGTERM; sending SIGKILL", "grace", grace)
	_ = cmd.Process.Kill()
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: pid %d survived SIGKILL", p.name, cmd.Process.Pid)
	}
}

// logTail returns up to n bytes from the end of the component's log.
func (p *process) logTail(n int64) []byte {
	f, err := os.Open(p.logPath)
	if err != nil {
		return []byte(fmt.Sprintf("(no log: %v)", err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return buf
}
