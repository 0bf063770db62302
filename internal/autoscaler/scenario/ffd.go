package scenario

import (
	"fmt"
	"math"
	"slices"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Reference is what [FirstFitDecreasing] planned.
type Reference struct {
	// Nodes and Cost (USD/hour) are the new nodes opened.
	Nodes int
	Cost  float64
	// Placed counts the pods placed on existing or upcoming nodes, NewPods
	// those placed on new nodes, Unplaced the others (unsupported pods are
	// not counted at all).
	Placed, NewPods, Unplaced int
	// Increases counts the new nodes per "group/instance type".
	Increases map[string]int
}

// FirstFitDecreasing is the plain reference planner. Pods are taken class
// by class, largest first (GPUs, then cpu, then memory); each pod goes on
// the first node, in snapshot order (existing, upcoming, then new nodes in
// opening order), where the simulator's predicates say it fits. When none
// fits, it opens a new node of the option (group and instance type) with
// the lowest price per pod of the class that a fresh node holds (by
// resources, after the DaemonSet pods), ties to the first option by group
// ID and template order; an option whose node the pod still does not fit
// (zone spread) is removed and the next is tried. Group MaxSize and
// backoffs are honoured; cluster-wide limits are not. When no option takes
// a pod, the rest of its class is left unplaced.
func FirstFitDecreasing(in autoscaler.Input) (Reference, error) {
	ref := Reference{Increases: map[string]int{}}
	opts, err := growOptions(in)
	if err != nil {
		return ref, fmt.Errorf("first-fit decreasing: %w", err)
	}
	work := simulator.NewSnapshot()
	if in.Snapshot != nil {
		work = in.Snapshot.Fork()
	}
	if err := addUpcoming(work, in); err != nil {
		return ref, fmt.Errorf("first-fit decreasing: %w", err)
	}
	f := &ffd{work: work, ref: &ref, grown: map[string]int{}, isNew: map[string]bool{}}
	for _, c := range compileClasses(in.Pending) {
		if err := f.placeClass(c, cheapestFirst(c, opts)); err != nil {
			return ref, fmt.Errorf("first-fit decreasing: %w", err)
		}
	}
	return ref, nil
}

type ffd struct {
	work  *simulator.Snapshot
	ref   *Reference
	grown map[string]int  // group ID → new nodes
	isNew map[string]bool // names of the new nodes
	seq   int
}

func (f *ffd) placeClass(c *class, cands []*option) error {
	pl := simulator.NewPlacer(f.work, c.rep)
	for i, q := range c.pods {
		node, ok, err := pl.PlaceFirstFit(q)
		if err != nil {
			return err
		}
		if ok && f.isNew[node] {
			f.ref.NewPods++
		}
		if ok && !f.isNew[node] {
			f.ref.Placed++
		}
		if ok {
			continue
		}
		ok, err = f.open(pl, q, cands)
		if err != nil {
			return err
		}
		if !ok {
			f.ref.Unplaced += len(c.pods) - i
			return nil
		}
	}
	return nil
}

// open adds a node of the first candidate whose node q fits and places q
// on it.
func (f *ffd) open(pl *simulator.Placer, q *simulator.Pod, cands []*option) (bool, error) {
	for _, o := range cands {
		if f.grown[o.group.ID] >= o.room {
			continue
		}
		f.seq++
		name := fmt.Sprintf("ffd-new-%d", f.seq)
		if err := f.work.AddTemplateNode(o.tmpl, name, o.ds); err != nil {
			return false, err
		}
		node, ok, err := pl.PlaceFirstFit(q)
		if err != nil {
			return false, err
		}
		if !ok {
			if err := f.work.RemoveNode(name); err != nil {
				return false, err
			}
			continue
		}
		if node != name {
			return false, fmt.Errorf("pod %s placed on %s, not on the node %s opened for it", q.Key(), node, name)
		}
		f.grown[o.group.ID]++
		f.isNew[name] = true
		f.ref.Increases[o.key()]++
		f.ref.Nodes++
		f.ref.Cost += o.it.Price
		f.ref.NewPods++
		return true, nil
	}
	return false, nil
}

// cheapestFirst returns the options a pod of c fits fresh, by price per
// pod a fresh node holds (unknown prices last), then in option order.
func cheapestFirst(c *class, opts []*option) []*option {
	type cand struct {
		o     *option
		score float64
	}
	var cs []cand
	for _, o := range opts {
		n := perNode(c, o.free)
		if n == 0 || !o.fits(c) {
			continue
		}
		score := math.Inf(1)
		if o.it.Price > 0 {
			score = o.it.Price / float64(n)
		}
		cs = append(cs, cand{o, score})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return 0
	})
	out := make([]*option, len(cs))
	for i, c := range cs {
		out[i] = c.o
	}
	return out
}

// addUpcoming adds each group's upcoming instances as template nodes of
// its primary type, as PlanScaleUp does.
func addUpcoming(s *simulator.Snapshot, in autoscaler.Input) error {
	for _, g := range in.Groups {
		n := in.Upcoming[g.ID]
		if n <= 0 || len(g.Template.InstanceTypes) == 0 {
			continue
		}
		o, ok, err := newOption(g, g.Template.InstanceTypes[0], in)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		for i := range n {
			if err := s.AddTemplateNode(o.tmpl, fmt.Sprintf("%s-upcoming-%d", g.ID, i), o.ds); err != nil {
				return fmt.Errorf("upcoming node of %s: %w", g.ID, err)
			}
		}
	}
	return nil
}
