package cloud

import "context"

// GroupLister lists the node groups the provider manages. The autoscaler
// reads it once per loop: Refresh, then NodeGroups.
type GroupLister interface {
	// Refresh reads the groups, their instances, templates and recent
	// failed scaling activities from the cloud and replaces the snapshot
	// NodeGroups returns. On error the previous snapshot stays, and no
	// failure is lost: a failed launch is reported by every successful
	// Refresh while it is recent (see [NodeGroup.Errors]), whoever calls
	// it.
	Refresh(ctx context.Context) error

	// NodeGroups returns the snapshot of the last successful Refresh
	// (refreshing first when there is none), sorted by ID. The caller owns
	// the result. A Scaler call of the same provider updates the snapshot's
	// TargetSize and instance states at once.
	NodeGroups(ctx context.Context) ([]NodeGroup, error)
}

// InstanceFinder looks up single instances, for the CSR approver and the
// node lifecycle controller. Results are cached for a short TTL; a caller
// that must not act on a stale answer invalidates first.
type InstanceFinder interface {
	// InstanceByID returns the instance, terminated ones included while the
	// cloud still reports them. An unknown id is ErrNotFound.
	InstanceByID(ctx context.Context, id string) (Instance, error)

	// InstanceForNode returns the instance a Node's spec.providerID names.
	// A malformed providerID is ErrInvalidProviderID; an unknown instance
	// (or one in another zone than the providerID says) is ErrNotFound.
	InstanceForNode(ctx context.Context, providerID string) (Instance, error)

	// InstanceByPrivateDNSName returns every instance that is not
	// terminated and has the private DNS name, sorted by ID: more than one
	// means the name is ambiguous. None is ErrNotFound. Names repeat across
	// networks (VPCs) of one account: the search covers only the networks
	// of the managed groups, so another network's instance of the same name
	// is neither returned nor makes the name ambiguous; with no managed
	// group the answer is ErrNotFound.
	InstanceByPrivateDNSName(ctx context.Context, name string) ([]Instance, error)

	// Invalidate drops what the cache holds about one instance.
	Invalidate(instanceID string)

	// InvalidateAll empties the cache.
	InvalidateAll()
}

// Provider is everything kelp reads from a cloud.
type Provider interface {
	GroupLister
	InstanceFinder
}

// Scaler changes node groups; it is the only interface with side effects.
// Both methods act only on groups the provider manages (others are
// ErrNotFound) and validate against the group's current bounds before
// calling the cloud.
type Scaler interface {
	// SetTargetSize sets the group's desired capacity to n, without
	// honouring cooldowns. n outside [MinSize, MaxSize] is ErrOutOfRange;
	// setting the current size is a no-op. Lowering it lets the cloud pick
	// the instances to terminate: to remove particular ones, use
	// DeleteInstances.
	SetTargetSize(ctx context.Context, group string, n int) error

	// DeleteInstances terminates the instances and lowers the group's
	// desired capacity by one for each, so they are not replaced. Every id
	// must belong to the group (else ErrNotFound, and nothing is done);
	// its instances already terminating or terminated are skipped, so
	// deleting twice is harmless. Going below MinSize is
	// ErrOutOfRange and nothing is done. When some terminations fail the
	// error names each, and the others stand.
	DeleteInstances(ctx context.Context, group string, ids []string) error
}
