package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// nodeTemplateResourcesTag prefixes cluster-autoscaler's resource tags:
// k8s.io/cluster-autoscaler/node-template/resources/<name> = <quantity>.
const nodeTemplateResourcesTag = "k8s.io/cluster-autoscaler/node-template/resources/"

// templateCache holds launch template versions by number: a numbered
// version never changes.
type templateCache struct {
	mu      sync.Mutex
	entries map[string]templateEntry // "<id or name>@<number>"
}

type templateEntry struct {
	data *ec2types.ResponseLaunchTemplateData
}

// groupTemplateSpec returns the launch template a group launches from.
func groupTemplateSpec(g astypes.AutoScalingGroup) *astypes.LaunchTemplateSpecification {
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil && m.LaunchTemplate.LaunchTemplateSpecification != nil {
		return m.LaunchTemplate.LaunchTemplateSpecification
	}
	return g.LaunchTemplate
}

// launchTemplateData reads the data of the version spec names ($Default
// when it names none). Numbered versions come from the cache after the
// first read; $Latest and $Default are read every time, since they move.
func (p *Provider) launchTemplateData(ctx context.Context, spec *astypes.LaunchTemplateSpecification) (*ec2types.ResponseLaunchTemplateData, error) {
	ref := sdkaws.ToString(spec.LaunchTemplateId)
	if ref == "" {
		ref = sdkaws.ToString(spec.LaunchTemplateName)
	}
	version := sdkaws.ToString(spec.Version)
	if version == "" {
		version = "$Default"
	}
	p.templates.mu.Lock()
	e, ok := p.templates.entries[ref+"@"+version]
	p.templates.mu.Unlock()
	if ok {
		return e.data, nil
	}
	in := &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{version}}
	if spec.LaunchTemplateId != nil {
		in.LaunchTemplateId = spec.LaunchTemplateId
	} else {
		in.LaunchTemplateName = spec.LaunchTemplateName
	}
	out, err := call(ctx, p, "DescribeLaunchTemplateVersions", func(ctx context.Context) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
		return p.ec2.DescribeLaunchTemplateVersions(ctx, in)
	})
	if err != nil {
		return nil, fmt.Errorf("describe launch template %s version %s: %w", ref, version, err)
	}
	if len(out.LaunchTemplateVersions) == 0 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		return nil, fmt.Errorf("describe launch template %s version %s: %w", ref, version, cloud.ErrNotFound)
	}
	v := out.LaunchTemplateVersions[0]
	p.templates.mu.Lock()
	p.templates.entries[ref+"@"+strconv.FormatInt(sdkaws.ToInt64(v.VersionNumber), 10)] = templateEntry{data: v.LaunchTemplateData}
	p.templates.mu.Unlock()
	return v.LaunchTemplateData, nil
}

// groupTemplate builds a group's node template. Problems that make the
// template wrong or empty (a missing launch template, an unknown type, a
// malformed tag) are returned as messages for ErrInvalidGroup errors; err
// is a failed call, which fails the refresh.
func (p *Provider) groupTemplate(ctx context.Context, g astypes.AutoScalingGroup) (cloud.NodeTemplate, []error, error) {
	spec := groupTemplateSpec(g)
	if spec == nil {
		return cloud.NodeTemplate{}, []error{errors.New("the group has no launch template (launch configurations are not supported)")}, nil
	}
	data, err := p.launchTemplateData(ctx, spec)
	if errors.Is(err, cloud.ErrNotFound) {
		return cloud.NodeTemplate{}, []error{err}, nil
	}
	if err != nil {
		return cloud.NodeTemplate{}, nil, err
	}
	names, problems := typeNames(g, data)
	types, missing, err := p.resolveTypes(ctx, names)
	if err != nil {
		return cloud.NodeTemplate{}, nil, err
	}
	for _, m := range missing {
		problems = append(problems, fmt.Errorf("instance type %s: EC2 does not know it", m))
	}
	in := templateInput{Group: g, Region: p.region, LaunchData: data, Types: types}
	if capacityType(g.MixedInstancesPolicy, data, tagMap(g.Tags)) == catalog.CapacityTypeSpot {
		if in.SpotPrices, err = p.spotPrices(ctx, names, groupZones(g)); err != nil {
			return cloud.NodeTemplate{}, nil, err
		}
	}
	t, buildProblems := buildTemplate(in)
	return t, append(problems, buildProblems...), nil
}

// typeNames lists the instance types a group launches: every override of a
// MixedInstancesPolicy in order, else the launch template's type.
func typeNames(g astypes.AutoScalingGroup, data *ec2types.ResponseLaunchTemplateData) ([]string, []error) {
	var names []string
	var problems []error
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil && len(m.LaunchTemplate.Overrides) > 0 {
		for i, o := range m.LaunchTemplate.Overrides {
			n := sdkaws.ToString(o.InstanceType)
			switch {
			case n == "":
				problems = append(problems, fmt.Errorf("override %d: no instance type (attribute-based selection is not supported)", i))
			case !slices.Contains(names, n):
				names = append(names, n)
			}
		}
		return names, problems
	}
	if data != nil && data.InstanceType != "" {
		return []string{string(data.InstanceType)}, nil
	}
	return nil, []error{errors.New("the launch template names no instance type and the group has no overrides")}
}

// templateInput is everything buildTemplate needs, gathered by IO first.
type templateInput struct {
	Group      astypes.AutoScalingGroup
	Region     string
	LaunchData *ec2types.ResponseLaunchTemplateData
	Types      map[string]catalog.InstanceType // by name
	SpotPrices map[string]float64              // lowest in the group's zones, by type
}

// buildTemplate makes the node template (no IO): capacity and allocatable
// from the catalog's formulas for every type, the launch template's root
// volume, capacity type and image, and the node-template tags, which
// override what is computed. problems lists what it had to ignore.
func buildTemplate(in templateInput) (cloud.NodeTemplate, []error) {
	tags := tagMap(in.Group.Tags)
	names, _ := typeNames(in.Group, in.LaunchData)
	ct := capacityType(in.Group.MixedInstancesPolicy, in.LaunchData, tags)
	extra, problems := tagResources(tags)
	opts := rootVolume(in.LaunchData)
	t := cloud.NodeTemplate{CapacityType: ct, Zones: groupZones(in.Group)}
	if in.LaunchData != nil {
		t.ImageID = sdkaws.ToString(in.LaunchData.ImageId)
	}
	for _, n := range names {
		it, ok := in.Types[n]
		if !ok {
			continue
		}
		capacity, alloc := it.Capacity(opts...), it.Allocatable(opts...)
		for name, q := range extra {
			capacity[name], alloc[name] = q.DeepCopy(), q.DeepCopy()
		}
		t.InstanceTypes = append(t.InstanceTypes, cloud.InstanceType{Name: n, Architecture: it.Architecture.KubernetesArch(),
			Capacity: capacity, Allocatable: alloc, Price: price(it, ct, in.SpotPrices)})
	}
	if len(t.InstanceTypes) == 0 {
		return t, append(problems, errors.New("no instance type of the group is known: the template is empty"))
	}
	t.CloudPicksType = len(t.InstanceTypes) > 1 // the group's allocation strategy picks among its overrides
	primary := t.InstanceTypes[0]
	t.Capacity, t.Allocatable = primary.Capacity.DeepCopy(), primary.Allocatable.DeepCopy()
	labels, lp := templateLabels(in, tags, primary, ct, t.Zones)
	t.Labels, problems = labels, append(problems, lp...)
	taints, tp := templateTaints(tags)
	t.Taints, problems = taints, append(problems, tp...)
	return t, problems
}

// capacityType is the node-template capacity-type label tag when valid;
// else spot when most instances above the on-demand base are spot (or the
// launch template asks for spot); else on-demand.
func capacityType(mixed *astypes.MixedInstancesPolicy, data *ec2types.ResponseLaunchTemplateData, tags map[string]string) catalog.CapacityType {
	switch ct := catalog.CapacityType(tags[pool.NodeTemplateLabelTag+pool.CapacityTypeLabel]); ct {
	case catalog.CapacityTypeSpot, catalog.CapacityTypeOnDemand:
		return ct
	}
	if mixed != nil && mixed.LaunchTemplate != nil && len(mixed.LaunchTemplate.Overrides) > 0 {
		pct := int32(100) // AWS's default
		if d := mixed.InstancesDistribution; d != nil && d.OnDemandPercentageAboveBaseCapacity != nil {
			pct = *d.OnDemandPercentageAboveBaseCapacity
		}
		if pct < 50 {
			return catalog.CapacityTypeSpot
		}
		return catalog.CapacityTypeOnDemand
	}
	if data != nil && data.InstanceMarketOptions != nil && data.InstanceMarketOptions.MarketType == ec2types.MarketTypeSpot {
		return catalog.CapacityTypeSpot
	}
	return catalog.CapacityTypeOnDemand
}

// price is the type's price for the capacity type: the spot price EC2
// reported, else the catalog's estimate; 0 when unknown.
func price(it catalog.InstanceType, ct catalog.CapacityType, spot map[string]float64) float64 {
	if ct != catalog.CapacityTypeSpot {
		return it.OnDemandPrice
	}
	if v, ok := spot[it.Name]; ok {
		return v
	}
	return it.SpotPrice
}

// rootVolume returns the catalog option for the launch template's root
// volume size: the EBS mapping of /dev/xvda or /dev/sda1, else the first
// EBS mapping with a size.
func rootVolume(data *ec2types.ResponseLaunchTemplateData) []catalog.Option {
	if data == nil {
		return nil
	}
	var size int32
	for _, m := range data.BlockDeviceMappings {
		if m.Ebs == nil || sdkaws.ToInt32(m.Ebs.VolumeSize) <= 0 {
			continue
		}
		if dev := sdkaws.ToString(m.DeviceName); dev == "/dev/xvda" || dev == "/dev/sda1" {
			size = *m.Ebs.VolumeSize
			break
		}
		if size == 0 {
			size = *m.Ebs.VolumeSize
		}
	}
	if size == 0 {
		return nil
	}
	return []catalog.Option{catalog.WithRootVolumeGiB(int64(size))}
}

// tagResources parses the node-template resources tags.
func tagResources(tags map[string]string) (corev1.ResourceList, []error) {
	out := corev1.ResourceList{}
	var problems []error
	for _, key := range slices.Sorted(maps.Keys(tags)) {
		name, ok := strings.CutPrefix(key, nodeTemplateResourcesTag)
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(tags[key])
		switch {
		case len(validation.IsQualifiedName(name)) > 0:
			problems = append(problems, fmt.Errorf("tag %s: %q is not a resource name", key, name))
		case err != nil || q.Sign() < 0:
			problems = append(problems, fmt.Errorf("tag %s: %q is not a non-negative quantity", key, tags[key]))
		default:
			out[corev1.ResourceName(name)] = q
		}
	}
	return out, problems
}

// templateLabels are the well-known labels of the primary type in the first
// zone, overridden by the node-template label tags.
func templateLabels(in templateInput, tags map[string]string, primary cloud.InstanceType, ct catalog.CapacityType,
	zones []string) (map[string]string, []error) {
	labels := map[string]string{
		corev1.LabelArchStable:         primary.Architecture,
		corev1.LabelOSStable:           "linux",
		corev1.LabelInstanceTypeStable: primary.Name,
		pool.CapacityTypeLabel:         string(ct),
	}
	if in.Region != "" {
		labels[corev1.LabelTopologyRegion] = in.Region
	}
	if len(zones) > 0 {
		labels[corev1.LabelTopologyZone] = zones[0]
	}
	if p := tags[pool.PoolTag]; p != "" {
		labels[pool.PoolTag] = p
	}
	var problems []error
	for _, key := range slices.Sorted(maps.Keys(tags)) {
		name, ok := strings.CutPrefix(key, pool.NodeTemplateLabelTag)
		if !ok {
			continue
		}
		if msgs := append(validation.IsQualifiedName(name), validation.IsValidLabelValue(tags[key])...); len(msgs) > 0 {
			problems = append(problems, fmt.Errorf("tag %s: invalid label: %s", key, strings.Join(msgs, "; ")))
			continue
		}
		labels[name] = tags[key]
	}
	return labels, problems
}

// templateTaints parses the node-template taint tags: <value>:<effect>
// (or <effect> alone), sorted by key.
func templateTaints(tags map[string]string) ([]corev1.Taint, []error) {
	var taints []corev1.Taint
	var problems []error
	for _, key := range slices.Sorted(maps.Keys(tags)) {
		name, ok := strings.CutPrefix(key, pool.NodeTemplateTaintTag)
		if !ok {
			continue
		}
		v := tags[key]
		value, effect := "", v
		if i := strings.LastIndex(v, ":"); i >= 0 {
			value, effect = v[:i], v[i+1:]
		}
		t := corev1.Taint{Key: name, Value: value, Effect: corev1.TaintEffect(effect)}
		switch {
		case len(validation.IsQualifiedName(name)) > 0:
			problems = append(problems, fmt.Errorf("tag %s: %q is not a taint key", key, name))
		case value != "" && len(validation.IsValidLabelValue(value)) > 0:
			problems = append(problems, fmt.Errorf("tag %s: %q is not a taint value", key, value))
		case t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectPreferNoSchedule &&
			t.Effect != corev1.TaintEffectNoExecute:
			problems = append(problems, fmt.Errorf("tag %s: %q: want <value>:NoSchedule, PreferNoSchedule or NoExecute", key, v))
		default:
			taints = append(taints, t)
		}
	}
	return taints, problems
}
