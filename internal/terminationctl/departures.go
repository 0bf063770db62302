package terminationctl

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
)

// departure is one instance on its way out this round, with what the
// round acts on.
type departure struct {
	termination.Departure
	node *corev1.Node
	// token is the lifecycle action token from the queue, "" when none
	// came.
	token string
}

// Memory of notices: how long a lifecycle action's token waits for the
// groups to show its instance in Terminating:Wait, and how long an
// instance reported shutting down is left alone.
const (
	actionMemory = 10 * time.Minute
	goneMemory   = time.Hour
)

// noted is what the rounds remember of the notices.
type noted struct {
	warnings map[string]termination.Departure // by instance ID
	actions  map[string]notedAction
	gone     map[string]time.Time // instances shutting down, when told
}

type notedAction struct {
	action
	at time.Time
}

// take moves what Notify received into the rounds' memory.
func (m *noted) take(b *inbox, now time.Time) {
	if m.warnings == nil {
		m.warnings, m.actions, m.gone = map[string]termination.Departure{}, map[string]notedAction{}, map[string]time.Time{}
	}
	warnings, actions, forgets := b.take()
	for id, w := range warnings {
		if old, ok := m.warnings[id]; !ok || stronger(w, old) {
			m.warnings[id] = w
		}
	}
	for id, a := range actions {
		m.actions[id] = notedAction{action: a, at: now}
	}
	for _, id := range forgets {
		delete(m.warnings, id)
		delete(m.actions, id)
		m.gone[id] = now
	}
	for id, at := range m.gone {
		if now.Sub(at) > goneMemory {
			delete(m.gone, id)
		}
	}
}

// departures returns this round's departing instances, by instance ID:
// every instance a group holds in Terminating:Wait (its cause from the
// group's activity, else from its lifecycle action notice), and every
// running instance with a warning (kept on its Node, or just received).
// A held instance keeps its warning's deadline. Warnings of instances no
// longer running, or gone, are forgotten.
func (m *noted) departures(groups []cloud.NodeGroup, nodes []*corev1.Node, now time.Time) []departure {
	byID, idOf := map[string]cloud.Instance{}, map[string]string{} // by instance ID, by providerID
	for _, g := range groups {
		for _, inst := range g.Instances {
			byID[inst.ID] = inst
			if inst.ProviderID != "" {
				idOf[inst.ProviderID] = inst.ID
			}
		}
	}
	nodeOf := map[string]*corev1.Node{} // by instance ID
	for _, n := range nodes {
		if id, ok := idOf[n.Spec.ProviderID]; ok && n.Spec.ProviderID != "" {
			nodeOf[id] = n
		}
	}
	out := map[string]*departure{}
	for _, inst := range cloud.WaitingToTerminate(groups) {
		d := &departure{Departure: termination.Departure{InstanceID: inst.ID, Group: inst.GroupName, Hook: pool.DrainHookName,
			Cause: termination.CauseOf(inst.LeaveCause)}, node: nodeOf[inst.ID]}
		if a, ok := m.actions[inst.ID]; ok {
			d.token = a.token
			if d.Cause == termination.CauseUnknown && a.cause != "" {
				d.Cause = a.cause
			}
		}
		out[inst.ID] = d
	}
	var warnings []termination.Departure
	for id, n := range nodeOf {
		if w, ok := warningOf(n); ok {
			w.InstanceID = id
			warnings = append(warnings, w)
		}
	}
	for _, w := range m.warnings {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		inst, ok := byID[w.InstanceID]
		switch {
		case !ok || !(inst.State.Active() || inst.WaitingToTerminate()):
			delete(m.warnings, w.InstanceID)
		case m.gone[w.InstanceID].IsZero():
			merge(out, w, inst, nodeOf[w.InstanceID])
		}
	}
	for id, a := range m.actions {
		if out[id] == nil && now.Sub(a.at) > actionMemory {
			delete(m.actions, id)
		}
	}
	list := make([]departure, 0, len(out))
	for _, d := range out {
		list = append(list, *d)
	}
	slices.SortFunc(list, func(a, b departure) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	return list
}

// merge adds warning w of inst to out: a held instance takes its deadline
// (the earliest) and, when the group does not say, its cause; an instance
// no hook holds departs on the strongest warning.
func merge(out map[string]*departure, w termination.Departure, inst cloud.Instance, node *corev1.Node) {
	d := out[w.InstanceID]
	if d != nil && d.Hook != "" {
		if !w.Deadline.IsZero() && (d.Deadline.IsZero() || w.Deadline.Before(d.Deadline)) {
			d.Deadline = w.Deadline
		}
		if d.Cause == termination.CauseUnknown {
			d.Cause = w.Cause
		}
		return
	}
	if d != nil && !stronger(w, d.Departure) {
		return
	}
	w.Group, w.Hook = inst.GroupName, ""
	out[w.InstanceID] = &departure{Departure: w, node: node}
}
