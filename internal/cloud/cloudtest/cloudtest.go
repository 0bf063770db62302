// Package cloudtest is an in-memory cloud.Provider (and
// cloud.LifecycleActions) for tests of the controllers that read the cloud
// and act on lifecycle hooks, and an in-memory cloud.InstanceRefresher
// (Refresher) for tests of pool rolls.
package cloudtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Provider is an in-memory cloud.Provider. The cloud holds node groups and
// instances in no group; the lookups find both. Like the AWS provider's,
// the group snapshot NodeGroups returns changes only on Refresh, so a test
// can let the cloud run ahead of it with SetGroups. It is safe for
// concurrent use. The zero value is an empty cloud.
type Provider struct {
	mu        sync.Mutex
	groups    []cloud.NodeGroup // the cloud's groups now
	ungrouped []cloud.Instance  // the cloud's instances in no group
	snapshot  []cloud.NodeGroup // as of the last Refresh
	err       error             // fails every read of the cloud
	failing   map[string]error  // fails the lookups of one instance ID

	hooks      map[string][]string // lifecycle hooks by group
	released   map[string][]string // hooks completed, by group/instance
	heartbeats []cloud.LifecycleAction
	completed  []CompletedAction

	refreshes      int
	invalidated    []string
	invalidatedAll int
}

var _ cloud.Provider = (*Provider)(nil)

// New returns a provider whose cloud holds groups, already refreshed:
// NodeGroups returns them, sorted by ID.
func New(groups ...cloud.NodeGroup) *Provider {
	p := &Provider{groups: cloneGroups(groups)}
	p.snapshot = cloneGroups(groups)
	return p
}

// SetGroups replaces the cloud's groups. NodeGroups shows them after the
// next Refresh.
func (p *Provider) SetGroups(groups ...cloud.NodeGroup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groups = cloneGroups(groups)
}

// AddInstances adds instances in no group of the snapshot: terminated
// ones, or members of groups kelp does not manage. The lookups find them;
// NodeGroups does not.
func (p *Provider) AddInstances(insts ...cloud.Instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range insts {
		p.ungrouped = append(p.ungrouped, i.Clone())
	}
}

// SetErr makes every read of the cloud fail with err, nil to stop: Refresh
// (the snapshot stays) and the lookups. NodeGroups still returns the last
// snapshot.
func (p *Provider) SetErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// FailInstance makes the lookups of the instance id (InstanceByID,
// InstanceForNode, and InstanceByPrivateDNSName of its name) fail with
// err, whether or not the cloud holds it.
func (p *Provider) FailInstance(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing == nil {
		p.failing = make(map[string]error)
	}
	p.failing[id] = err
}

// Refreshes returns how many times Refresh was called, failed calls
// included.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// Invalidated returns the ids passed to Invalidate, in order.
func (p *Provider) Invalidated() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.invalidated)
}

// InvalidatedAll returns how many times InvalidateAll was called.
func (p *Provider) InvalidatedAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.invalidatedAll
}

// Refresh implements cloud.GroupLister.
func (p *Provider) Refresh(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshes++
	if p.err != nil {
		return fmt.Errorf("refresh node groups: %w", p.err)
	}
	p.snapshot = cloneGroups(p.groups)
	return nil
}

// NodeGroups implements cloud.GroupLister.
func (p *Provider) NodeGroups(context.Context) ([]cloud.NodeGroup, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneGroups(p.snapshot), nil
}

// InstanceByID implements cloud.InstanceFinder.
func (p *Provider) InstanceByID(_ context.Context, id string) (cloud.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID(id)
}

// InstanceForNode implements cloud.InstanceFinder. An instance's zone is
// its AvailabilityZone or, when that is empty, the zone of its ProviderID.
func (p *Provider) InstanceForNode(_ context.Context, providerID string) (cloud.Instance, error) {
	zone, id, err := cloud.ParseProviderID(providerID)
	if err != nil {
		return cloud.Instance{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	inst, err := p.byID(id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("instance for node %s: %w", providerID, err)
	}
	if zone != "" && zoneOf(inst) != zone {
		return cloud.Instance{}, fmt.Errorf("instance for node %s: instance %s is in zone %s: %w",
			providerID, id, zoneOf(inst), cloud.ErrNotFound)
	}
	return inst, nil
}

// InstanceByPrivateDNSName implements cloud.InstanceFinder.
func (p *Provider) InstanceByPrivateDNSName(_ context.Context, name string) ([]cloud.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, fmt.Errorf("instances with private dns name %s: %w", name, p.err)
	}
	var out []cloud.Instance
	for _, i := range p.instances() {
		if i.PrivateDNSName != name || i.State == cloud.InstanceStateTerminated {
			continue
		}
		if err := p.failing[i.ID]; err != nil {
			return nil, fmt.Errorf("instances with private dns name %s: %w", name, err)
		}
		out = append(out, i.Clone())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("instance with private dns name %s: %w", name, cloud.ErrNotFound)
	}
	slices.SortFunc(out, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Invalidate implements cloud.InstanceFinder; it only records the call.
func (p *Provider) Invalidate(instanceID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated = append(p.invalidated, instanceID)
}

// InvalidateAll implements cloud.InstanceFinder; it only counts the call.
func (p *Provider) InvalidateAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidatedAll++
}

// byID finds the instance in the cloud. p.mu is held.
func (p *Provider) byID(id string) (cloud.Instance, error) {
	if p.err != nil {
		return cloud.Instance{}, fmt.Errorf("instance %s: %w", id, p.err)
	}
	if err := p.failing[id]; err != nil {
		return cloud.Instance{}, fmt.Errorf("instance %s: %w", id, err)
	}
	for _, i := range p.instances() {
		if i.ID == id {
			return i.Clone(), nil
		}
	}
	return cloud.Instance{}, fmt.Errorf("instance %s: %w", id, cloud.ErrNotFound)
}

// instances returns every instance of the cloud, the groups' first.
// p.mu is held.
func (p *Provider) instances() []cloud.Instance {
	var out []cloud.Instance
	for _, g := range p.groups {
		out = append(out, g.Instances...)
	}
	return append(out, p.ungrouped...)
}

func zoneOf(i cloud.Instance) string {
	if i.AvailabilityZone != "" {
		return i.AvailabilityZone
	}
	zone, _, _ := cloud.ParseProviderID(i.ProviderID)
	return zone
}

func cloneGroups(gs []cloud.NodeGroup) []cloud.NodeGroup {
	if gs == nil {
		return nil
	}
	out := make([]cloud.NodeGroup, len(gs))
	for i, g := range gs {
		out[i] = g.Clone()
	}
	slices.SortFunc(out, func(a, b cloud.NodeGroup) int { return strings.Compare(a.ID, b.ID) })
	return out
}

var _ cloud.LifecycleActions = (*Provider)(nil)

// SetHooks names the lifecycle hooks of a group: an instance of the group
// in Terminating:Wait is held by each of them.
func (p *Provider) SetHooks(group string, hooks ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hooks == nil {
		p.hooks = map[string][]string{}
	}
	p.hooks[group] = slices.Clone(hooks)
}

// Heartbeats returns the actions Heartbeat accepted, in order.
func (p *Provider) Heartbeats() []cloud.LifecycleAction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.heartbeats)
}

// Completed returns the actions Complete accepted, in order, with their
// results.
func (p *Provider) Completed() []CompletedAction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.completed)
}

// CompletedAction is one accepted Complete.
type CompletedAction struct {
	cloud.LifecycleAction
	Result cloud.LifecycleResult
}

// Heartbeat implements cloud.LifecycleActions: the action must exist (see
// Complete).
func (p *Provider) Heartbeat(_ context.Context, a cloud.LifecycleAction) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.heldLocked(a); err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", a, err)
	}
	p.heartbeats = append(p.heartbeats, a)
	return nil
}

// Complete implements cloud.LifecycleActions. The action exists while the
// instance is in Terminating:Wait in its group (of the cloud now, not the
// snapshot) and the group has the hook (SetHooks). Completing it moves the
// instance to Terminating:Proceed (the group's only hook) or releases that
// hook alone.
func (p *Provider) Complete(_ context.Context, a cloud.LifecycleAction, result cloud.LifecycleResult) error {
	if err := result.Validate(); err != nil {
		return fmt.Errorf("complete %s: %w", a, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	inst, err := p.heldLocked(a)
	if err != nil {
		return fmt.Errorf("complete %s: %w", a, err)
	}
	p.completed = append(p.completed, CompletedAction{LifecycleAction: a, Result: result})
	key := a.Group + "/" + a.InstanceID
	if p.released == nil {
		p.released = map[string][]string{}
	}
	p.released[key] = append(p.released[key], a.Hook)
	if len(p.released[key]) == len(p.hooks[a.Group]) {
		inst.CloudState = cloud.LifecycleTerminatingProceed
	}
	return nil
}

// heldLocked returns the instance the action holds, or ErrNotFound. p.mu
// is held.
func (p *Provider) heldLocked(a cloud.LifecycleAction) (*cloud.Instance, error) {
	if p.err != nil {
		return nil, p.err
	}
	if !slices.Contains(p.hooks[a.Group], a.Hook) {
		return nil, fmt.Errorf("group %s has no hook %s: %w", a.Group, a.Hook, cloud.ErrNotFound)
	}
	if slices.Contains(p.released[a.Group+"/"+a.InstanceID], a.Hook) {
		return nil, fmt.Errorf("no active lifecycle action: %w", cloud.ErrNotFound)
	}
	for gi := range p.groups {
		if p.groups[gi].ID != a.Group {
			continue
		}
		for ii := range p.groups[gi].Instances {
			inst := &p.groups[gi].Instances[ii]
			if inst.ID == a.InstanceID && inst.WaitingToTerminate() {
				return inst, nil
			}
		}
	}
	return nil, fmt.Errorf("no active lifecycle action: %w", cloud.ErrNotFound)
}
