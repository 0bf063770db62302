package whatif

import (
	"context"
	"errors"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// TemplateFunc makes the node template of a pool's group before any node
// exists, in zones of region (the AWS adapter's PoolTemplate).
type TemplateFunc func(s pool.Spec, zones []string, region string) (cloud.NodeTemplate, error)

// PoolGroups returns the node groups of the pools of cfg as the cloud
// would report them with the cluster of nodes: each pool's bounds and
// template, its nodes (those labelled kelp.dev/pool=<pool> that have a
// providerID) as its running instances, and as many of them as its target
// size. The template's zones and region are those of the pool's nodes.
// A group's ID is the pool's Auto Scaling group name when cluster is set,
// else the pool's name.
func PoolGroups(cluster string, cfg pool.Config, nodes []*corev1.Node, template TemplateFunc) ([]cloud.NodeGroup, error) {
	var groups []cloud.NodeGroup
	var errs []error
	for _, s := range cfg.Pools {
		id := s.Name
		if cluster != "" {
			id = pool.GroupName(cluster, s.Name)
		}
		g := cloud.NodeGroup{ID: id, Pool: s.Name, MinSize: int(s.MinSize), MaxSize: int(s.MaxSize)}
		var zones []string
		region := ""
		for _, n := range nodes {
			if n.Labels[pool.PoolTag] != s.Name || n.Spec.ProviderID == "" {
				continue
			}
			zone := n.Labels[corev1.LabelTopologyZone]
			if zone != "" && !slices.Contains(zones, zone) {
				zones = append(zones, zone)
			}
			region = n.Labels[corev1.LabelTopologyRegion]
			g.Instances = append(g.Instances, cloud.Instance{ID: instanceID(n.Spec.ProviderID), ProviderID: n.Spec.ProviderID,
				PrivateDNSName: n.Name, AvailabilityZone: zone, InstanceType: n.Labels[corev1.LabelInstanceTypeStable],
				State: cloud.InstanceStateRunning, CloudState: "InService", GroupName: id, Pool: s.Name,
				LaunchTime: n.CreationTimestamp.Time})
		}
		slices.Sort(zones)
		slices.SortFunc(g.Instances, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
		g.TargetSize = len(g.Instances)
		t, err := template(s, zones, region)
		if err != nil {
			errs = append(errs, err)
		}
		g.Template = t
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b cloud.NodeGroup) int { return strings.Compare(a.ID, b.ID) })
	return groups, errors.Join(errs...)
}

// instanceID is the last element of a providerID (aws:///zone/i-0abc).
func instanceID(providerID string) string {
	return providerID[strings.LastIndex(providerID, "/")+1:]
}

// Groups is a fixed snapshot of node groups, a cloud.GroupLister that
// reads nothing. (loop.Simulate refuses every change.)
type Groups []cloud.NodeGroup

var _ cloud.GroupLister = Groups(nil)

// Refresh does nothing: the snapshot is fixed.
func (Groups) Refresh(context.Context) error { return nil }

// NodeGroups returns a copy of the snapshot.
func (g Groups) NodeGroups(context.Context) ([]cloud.NodeGroup, error) {
	out := make([]cloud.NodeGroup, len(g))
	for i := range g {
		out[i] = g[i].Clone()
	}
	return out, nil
}

// ReadOnly is a live cloud's group lister, read and never written: it
// hides every other method of the provider.
type ReadOnly struct{ Lister cloud.GroupLister }

var _ cloud.GroupLister = ReadOnly{}

// Refresh reads the groups from the cloud.
func (r ReadOnly) Refresh(ctx context.Context) error { return r.Lister.Refresh(ctx) }

// NodeGroups returns the groups last read.
func (r ReadOnly) NodeGroups(ctx context.Context) ([]cloud.NodeGroup, error) {
	return r.Lister.NodeGroups(ctx)
}
