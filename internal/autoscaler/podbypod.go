// Options placed pod by pod, on the working snapshot rolled back after
// each, for classes outside the Packer's model.

package autoscaler

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// pack places class c with its Placer pl on the working snapshot for
// simulation s, returning why it stopped ("" when every replica was
// placed).
func (p *planner) pack(s *simulation, pl *simulator.Placer, c *class, room int, limit string) string {
	snap, tmpl, ds := p.work, s.tmpl, s.ds
	for _, q := range c.pods {
		node, ok, err := pl.PlaceFirstFit(q)
		if err != nil {
			return err.Error()
		}
		if ok {
			s.placed = append(s.placed, placement{q.Key(), node, q})
			continue
		}
		if len(s.nodes) >= room {
			if why := fitsFresh(snap, tmpl, ds, q); why != "" {
				return why // more room would not help
			}
			return limit
		}
		p.seq++
		name := fmt.Sprintf("%s-new-%d", tmpl.Name, p.seq)
		if err := snap.AddTemplateNode(tmpl, name, ds); err != nil {
			return err.Error()
		}
		if node, ok, err = pl.PlaceFirstFit(q); err == nil && ok {
			s.nodes = append(s.nodes, name)
			s.placed = append(s.placed, placement{q.Key(), node, q})
			continue
		}
		why := pl.Reason(q, name)
		_ = snap.RemoveNode(name)
		if err != nil {
			return err.Error()
		}
		return string(why)
	}
	return ""
}

// replayPlaced applies a pod-by-pod simulation to the working snapshot:
// its new nodes, then its pods where it placed them.
func (p *planner) replayPlaced(s *simulation) error {
	for _, n := range s.nodes {
		if err := p.work.AddTemplateNode(s.tmpl, n, s.ds); err != nil {
			return fmt.Errorf("replay plan: %w", err)
		}
	}
	for _, pl := range s.placed {
		if err := p.work.AddPod(pl.node, pl.q); err != nil {
			return fmt.Errorf("replay plan: %w", err)
		}
	}
	return nil
}

// fitsFresh says why q does not fit a new node of tmpl added to a fork of
// snap, "" when it fits.
func fitsFresh(snap *simulator.Snapshot, tmpl *corev1.Node, ds []*simulator.Pod, q *simulator.Pod) string {
	f := snap.Fork()
	const name = "kelp-probe-node"
	if err := f.AddTemplateNode(tmpl, name, ds); err != nil {
		return err.Error()
	}
	_, why := simulator.Fits(f, q, name)
	return string(why)
}

// optionOf summarizes simulation s, still applied to the working
// snapshot, as an option.
func (p *planner) optionOf(g cloud.NodeGroup, it cloud.InstanceType, s *simulation) Option {
	o := Option{Group: g.ID, Pool: g.Pool, InstanceType: it.Name, Nodes: len(s.nodes), Price: it.Price}
	o.Cost = float64(o.Nodes) * it.Price
	for _, pl := range s.placed {
		o.Pods = append(o.Pods, pl.pod)
	}
	slices.Sort(o.Pods)
	var alloc, req simulator.Resources
	for _, n := range s.nodes {
		info, ok := p.work.Node(n)
		if !ok {
			continue
		}
		alloc.Add(info.Allocatable)
		req.Add(info.Requested)
	}
	p.settle(&o, alloc, req)
	return o
}
