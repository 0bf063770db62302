// The room new nodes leave, and the pending pods of later classes expected
// to take it.

package autoscaler

import "github.com/kelp-dev/kelp/internal/simulator"

// demand is the summed requests of pending pods (cpu in millicores, memory
// in bytes, pods counted), as a fluid.
type demand struct{ cpu, mem, pods float64 }

// followers returns the demand of the classes planned after the lead that
// the new nodes' room can expect: their summed requests, less the share
// the room already left on the working snapshot's nodes takes (the later
// classes fill that room first, first-fit). A class that fits nowhere
// still counts: the estimate only weighs options against each other.
//
// A lead requesting extended resources (GPUs) expects no followers: its
// nodes are chosen for it alone, since the pods that do not need them
// would otherwise make a dearer GPU type look cheap per pod, while the
// later GPU classes' nodes leave them room anyway.
func (p *planner) followers(lead *class, rest []*class) demand {
	var d demand
	if scalarTotal(lead.rep.Requests()) > 0 {
		return d
	}
	for _, c := range rest {
		r, n := c.rep.Requests(), float64(len(c.pods))
		d.cpu += n * float64(r.MilliCPU)
		d.mem += n * float64(r.Memory)
		d.pods += n
	}
	return d.scale(1 - d.share(p.work.FreeRoom()))
}

// share returns the fraction of d that room takes: the largest f ≤ 1 with
// f·d within room in every resource.
func (d demand) share(room simulator.Resources) float64 {
	f := 1.0
	for _, q := range [...][2]float64{{d.cpu, float64(room.MilliCPU)}, {d.mem, float64(room.Memory)}, {d.pods, float64(room.Pods)}} {
		if q[0] > 0 {
			f = min(f, max(q[1], 0)/q[0])
		}
	}
	return f
}

func (d demand) scale(f float64) demand { return demand{d.cpu * f, d.mem * f, d.pods * f} }

// settle sets o's Fill (how many of the later classes' pods the room its
// new nodes leave takes) and Waste (the room left unused after that) from
// the new nodes' summed allocatable and requests.
func (p *planner) settle(o *Option, alloc, req simulator.Resources) {
	room := alloc
	room.Sub(req)
	fill := p.follow.scale(p.follow.share(room))
	if o.Nodes == 0 {
		fill = demand{}
	}
	o.Fill = fill.pods
	o.Waste = wasted(alloc.MilliCPU, req.MilliCPU+int64(fill.cpu)) + wasted(alloc.Memory, req.Memory+int64(fill.mem))
}
