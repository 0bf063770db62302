package localup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
)

// checkListenAddrs tries, before anything starts, every address the
// cluster will listen on later whose owner is known now: the in-process
// controller's web view and probes, and the identity join ports a
// previous start saved (identity-mode launch templates name them, so they
// cannot move). A taken one fails Start at once, naming the address and
// the way out, rather than leaving a cluster whose controller died.
func checkListenAddrs(cfg Config) error {
	if !cfg.NoController {
		for _, a := range []struct{ addr, what, flag string }{
			{cfg.Controller.WebAddr, "the web view", "--web-addr"},
			{cfg.Controller.ProbeAddr, "the controller's probes", "--probe-addr"},
		} {
			if a.addr == "" {
				continue
			}
			if err := tryListen(a.addr); err != nil {
				return fmt.Errorf("%s cannot listen on %s, taken by another process: choose another address with %s (empty turns it off): %w", a.what, a.addr, a.flag, err)
			}
		}
	}
	path := filepath.Join(cfg.Dir, "cloud", "identity-ports.json")
	ports, err := loadIdentityPorts(path)
	if err != nil {
		return err
	}
	type identityPort struct {
		port int
		what string
	}
	saved := []identityPort{{ports.Metadata, "instance metadata service"}, {ports.STS, "local STS"}}
	if !cfg.NoController { // else another process serves the join endpoint
		saved = append(saved, identityPort{ports.Join, "identity join endpoint"})
	}
	for _, p := range saved {
		if p.port == 0 {
			continue
		}
		if err := tryListen(net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))); err != nil {
			return fmt.Errorf("the %s's port 127.0.0.1:%d (saved in %s; identity-mode launch templates name it) is taken by another process: "+
				"stop that process, or delete the cluster directory %s to start afresh: %w", p.what, p.port, path, cfg.Dir, err)
		}
	}
	return nil
}

func tryListen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// runController runs the controller in the background until Stop; an
// early end, with or without an error, is kept for ControllerErr.
func (c *Cluster) runController(ctx context.Context, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	c.stopController, c.controllerDone = cancel, make(chan struct{})
	go func() {
		defer close(c.controllerDone)
		err := run(ctx)
		if ctx.Err() != nil {
			return // stopped by Stop
		}
		if err == nil {
			err = errors.New("it returned without being stopped")
		}
		c.controllerErr = err
		c.cfg.Logger.Error("kelp controller stopped", "err", err)
	}()
}

// ControllerDone is closed when the in-process controller has stopped:
// by Stop, or by itself (ControllerErr then says why). Nil when the
// cluster runs no controller, so a select on it waits forever.
func (c *Cluster) ControllerDone() <-chan struct{} {
	if c.controllerDone == nil {
		return nil
	}
	return c.controllerDone
}

// ControllerErr is why the in-process controller stopped by itself, once
// ControllerDone is closed; nil while it runs or when Stop stopped it.
func (c *Cluster) ControllerErr() error {
	select {
	case <-c.ControllerDone():
		return c.controllerErr
	default:
		return nil
	}
}
