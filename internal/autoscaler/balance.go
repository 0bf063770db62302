package autoscaler

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// ignoredSimilarLabels are the labels that differ between groups that are
// otherwise alike (cluster-autoscaler's basic and AWS ignore lists, and
// kelp's pool name): [SimilarGroups] does not compare them.
var ignoredSimilarLabels = map[string]bool{
	corev1.LabelHostname: true, corev1.LabelTopologyZone: true, corev1.LabelTopologyRegion: true,
	corev1.LabelFailureDomainBetaZone: true, corev1.LabelFailureDomainBetaRegion: true,
	"beta.kubernetes.io/fluentd-ds-ready": true, "kops.k8s.io/instancegroup": true,
	"alpha.eksctl.io/instance-id": true, "alpha.eksctl.io/nodegroup-name": true,
	"eks.amazonaws.com/nodegroup": true, "k8s.amazonaws.com/eniConfig": true,
	"lifecycle": true, "topology.k8s.aws/zone-id": true, "topology.ebs.csi.aws.com/zone": true,
	"kelp.dev/pool": true,
}

// SimilarGroups reports whether groups a and b make the same nodes but for
// their zone and name, as cluster-autoscaler's node group comparator for
// --balance-similar-node-groups: the same instance types (names, capacity
// and allocatable), the same capacity type, the same labels but those in
// the ignore list (zone, region, hostname, node group names) and the same
// taints.
func SimilarGroups(a, b cloud.NodeGroup) bool {
	ta, tb := a.Template, b.Template
	if a.ID == b.ID || ta.CapacityType != tb.CapacityType || len(ta.InstanceTypes) != len(tb.InstanceTypes) {
		return false
	}
	for i, x := range ta.InstanceTypes {
		y := tb.InstanceTypes[i]
		if x.Name != y.Name || !sameList(x.Capacity, y.Capacity) || !sameList(x.Allocatable, y.Allocatable) {
			return false
		}
	}
	keep := func(k string, _ string) bool { return ignoredSimilarLabels[k] }
	la, lb := maps.Clone(ta.Labels), maps.Clone(tb.Labels)
	maps.DeleteFunc(la, keep)
	maps.DeleteFunc(lb, keep)
	if !maps.Equal(la, lb) {
		return false
	}
	return slices.EqualFunc(ta.Taints, tb.Taints, func(x, y corev1.Taint) bool { return x.MatchTaint(&y) && x.Value == y.Value })
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		if r, ok := b[k]; !ok || q.Cmp(r) != 0 {
			return false
		}
	}
	return true
}

// BalanceSizes spreads delta new nodes over groups whose sizes are size
// and whose room for more is room, as cluster-autoscaler's
// BalanceScaleUpBetweenGroups: each node goes to the smallest group with
// room (ties to the earliest). It returns each group's share.
func BalanceSizes(size, room []int, delta int) []int {
	share := make([]int, len(size))
	for range delta {
		best := -1
		for i := range size {
			if share[i] < room[i] && (best < 0 || size[i]+share[i] < size[best]+share[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		share[best]++
	}
	return share
}

// balance spreads each increase over the groups similar to its group
// (Input.BalanceSimilarNodeGroups) that can grow and whose template node
// takes every pod of the increase, balancing their sizes (target plus
// planned). The pods stay with the first increase of the set that gets
// nodes; the nodes already simulated keep their group's labels for the
// rest of the plan.
func (p *planner) balance() {
	if !p.in.BalanceSimilarNodeGroups {
		return
	}
	var out []Increase
	for _, inc := range p.plan.Increases {
		g := p.group(inc.Group)
		set := []cloud.NodeGroup{g}
		for _, h := range p.groups {
			if SimilarGroups(g, h) && p.ineligible(h) == "" && p.groupRoom(h) > 0 && p.fitsAll(h, inc) {
				set = append(set, h)
			}
		}
		if len(set) == 1 {
			out = append(out, inc)
			continue
		}
		p.grown[g.ID] -= inc.Delta
		size, room := make([]int, len(set)), make([]int, len(set))
		for i, h := range set {
			size[i], room[i] = h.TargetSize+p.grown[h.ID], p.groupRoom(h)
		}
		shares := BalanceSizes(size, room, inc.Delta)
		pods, price := inc.Pods, 0.0
		if inc.Delta > 0 {
			price = inc.Cost / float64(inc.Delta)
		}
		for i, h := range set {
			if shares[i] == 0 {
				continue
			}
			p.grown[h.ID] += shares[i]
			b := Increase{Group: h.ID, InstanceType: inc.InstanceType, Delta: shares[i], Pods: pods, Cost: float64(shares[i]) * price, Reason: inc.Reason}
			pods = nil
			if h.ID != g.ID {
				b.Reason = fmt.Sprintf("balanced with similar group %s (--balance-similar-node-groups): %s", g.ID, inc.Reason)
			}
			out = append(out, b)
		}
	}
	p.plan.Increases = mergeIncreases(out)
}

// fitsAll reports whether every pod of inc fits a new node of group h
// added to the cluster as planned (zones, affinity, spread and taints
// decide: the groups are alike otherwise).
func (p *planner) fitsAll(h cloud.NodeGroup, inc Increase) bool {
	it, ok := h.Template.InstanceType(inc.InstanceType)
	if !ok {
		return false
	}
	tmpl, ds, ok := p.template(h, it)
	if !ok {
		return false
	}
	f := p.work.Fork()
	const probe = "balance-probe"
	if f.AddTemplateNode(tmpl, probe, ds) != nil {
		return false
	}
	if p.pods == nil {
		p.pods = map[string]*simulator.Pod{}
		for _, c := range p.allClasses {
			for _, q := range c.all {
				p.pods[q.Key()] = q
			}
		}
	}
	for _, key := range inc.Pods {
		q, ok := p.pods[key]
		if !ok {
			return false
		}
		if ok, _ := simulator.Fits(f, q, probe); !ok {
			return false
		}
	}
	return true
}

// mergeIncreases merges increases of the same group and type, in order.
func mergeIncreases(incs []Increase) []Increase {
	var out []Increase
	for _, inc := range incs {
		i := slices.IndexFunc(out, func(o Increase) bool { return o.Group == inc.Group && o.InstanceType == inc.InstanceType })
		if i < 0 {
			out = append(out, inc)
			continue
		}
		o := &out[i]
		o.Delta += inc.Delta
		o.Cost += inc.Cost
		o.Pods = append(o.Pods, inc.Pods...)
		o.Reason += "; " + inc.Reason
	}
	return out
}
