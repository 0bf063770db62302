package localcloud

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// groupInput is a CreateAutoScalingGroup or UpdateAutoScalingGroup request;
// nil and empty members were not sent.
type groupInput struct {
	Name                             string
	Template                         *templateSpec
	Mixed                            *mixedPolicy
	Min, Max, Desired                *int
	DefaultCooldown                  *int
	HealthCheckGracePeriod           *int
	HealthCheckType                  string
	Zones                            []string
	Subnets                          []string
	TerminationPolicies              []string
	NewInstancesProtectedFromScaleIn *bool
	CapacityRebalance                *bool
	Tags                             []asTag
}

// parseGroupInput reads the members Create and Update share; base is the
// group being updated (nil on create) whose mixed policy partial updates
// start from.
func parseGroupInput(p params, base *group) (groupInput, error) {
	in := groupInput{Name: p.str("AutoScalingGroupName"), HealthCheckType: p.str("HealthCheckType"),
		Zones: p.list("AvailabilityZones"), TerminationPolicies: p.list("TerminationPolicies")}
	if p.has("LaunchConfigurationName") || p.has("InstanceId") {
		return in, validationf("Launch configurations and instance ids are not supported by the local cloud: use LaunchTemplate or MixedInstancesPolicy.")
	}
	if p.hasPrefix("LaunchTemplate.") {
		spec, err := parseTemplateSpec(p, "LaunchTemplate.")
		if err != nil {
			return in, err
		}
		in.Template = &spec
	}
	if p.hasPrefix("MixedInstancesPolicy.") {
		m, err := parseMixed(p, base)
		if err != nil {
			return in, err
		}
		in.Mixed = m
	}
	if in.Template != nil && in.Mixed != nil {
		return in, validationf("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	if v := p.str("VPCZoneIdentifier"); v != "" {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(in.Subnets, s) {
				in.Subnets = append(in.Subnets, s)
			}
		}
	}
	var err error
	ints := []struct {
		key string
		dst **int
	}{{"MinSize", &in.Min}, {"MaxSize", &in.Max}, {"DesiredCapacity", &in.Desired},
		{"DefaultCooldown", &in.DefaultCooldown}, {"HealthCheckGracePeriod", &in.HealthCheckGracePeriod}}
	for _, f := range ints {
		if *f.dst, err = p.optInt(f.key); err != nil {
			return in, err
		}
		if *f.dst != nil && **f.dst < 0 {
			return in, validationf("%s must not be negative: %d", f.key, **f.dst)
		}
	}
	if in.NewInstancesProtectedFromScaleIn, err = p.optBool("NewInstancesProtectedFromScaleIn"); err != nil {
		return in, err
	}
	if in.CapacityRebalance, err = p.optBool("CapacityRebalance"); err != nil {
		return in, err
	}
	in.Tags, err = parseASTags(p, in.Name)
	return in, err
}

// parseTemplateSpec reads prefix{LaunchTemplateId,LaunchTemplateName,Version}.
func parseTemplateSpec(p params, prefix string) (templateSpec, error) {
	s := templateSpec{ID: p.str(prefix + "LaunchTemplateId"), Name: p.str(prefix + "LaunchTemplateName"),
		Version: p.str(prefix + "Version")}
	if (s.ID == "") == (s.Name == "") {
		return s, validationf("You must specify either launch template ID or launch template name in the request, but not both.")
	}
	return s, nil
}

const (
	mixedPrefix = "MixedInstancesPolicy."
	distPrefix  = mixedPrefix + "InstancesDistribution."
)

func parseMixed(p params, base *group) (*mixedPolicy, error) {
	m := &mixedPolicy{Distribution: distribution{OnDemandAllocationStrategy: "prioritized",
		OnDemandPercentageAboveBaseCapacity: 100, SpotAllocationStrategy: "lowest-price", SpotInstancePools: 2}}
	if base != nil && base.Mixed != nil {
		b := *base.Mixed
		m.Template, m.Overrides, m.Distribution = b.Template, slices.Clone(b.Overrides), b.Distribution
	}
	if p.hasPrefix(mixedPrefix + "LaunchTemplate.LaunchTemplateSpecification.") {
		spec, err := parseTemplateSpec(p, mixedPrefix+"LaunchTemplate.LaunchTemplateSpecification.")
		if err != nil {
			return nil, err
		}
		m.Template = spec
	} else if m.Template == (templateSpec{}) {
		return nil, validationf("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification is required.")
	}
	if p.hasPrefix(mixedPrefix + "LaunchTemplate.Overrides.") {
		ovs, err := parseOverrides(p)
		if err != nil {
			return nil, err
		}
		m.Overrides = ovs
	}
	d, err := parseDistribution(p, m.Distribution)
	if err != nil {
		return nil, err
	}
	m.Distribution = d
	return m, nil
}

func parseOverrides(p params) ([]override, error) {
	var out []override
	name := mixedPrefix + "LaunchTemplate.Overrides"
	for _, n := range p.indexes(name + ".member") {
		k := p.listKey(name, n) + "."
		o := override{InstanceType: p.str(k + "InstanceType"), WeightedCapacity: p.str(k + "WeightedCapacity")}
		if p.hasPrefix(k + "InstanceRequirements.") {
			return nil, validationf("InstanceRequirements (attribute-based instance type selection) is not supported by the local cloud; list instance types.")
		}
		if _, err := catalog.Lookup(o.InstanceType); err != nil {
			return nil, validationf("Invalid instance type '%s' in Overrides.member.%d; the local cloud offers: %v",
				o.InstanceType, n, catalog.Names())
		}
		if w := o.WeightedCapacity; w != "" && w != "1" {
			return nil, validationf("WeightedCapacity other than 1 is not supported by the local cloud (Overrides.member.%d).", n)
		}
		if p.hasPrefix(k + "LaunchTemplateSpecification.") {
			spec, err := parseTemplateSpec(p, k+"LaunchTemplateSpecification.")
			if err != nil {
				return nil, err
			}
			o.Template = &spec
		}
		out = append(out, o)
	}
	return out, nil
}

// parseDistribution overrides the members of base that the request sends.
func parseDistribution(p params, d distribution) (distribution, error) {
	if p.has(distPrefix + "OnDemandAllocationStrategy") {
		d.OnDemandAllocationStrategy = p.str(distPrefix + "OnDemandAllocationStrategy")
	}
	if p.has(distPrefix + "SpotAllocationStrategy") {
		d.SpotAllocationStrategy = p.str(distPrefix + "SpotAllocationStrategy")
	}
	if p.has(distPrefix + "SpotMaxPrice") {
		d.SpotMaxPrice = p.str(distPrefix + "SpotMaxPrice")
	}
	var err error
	if d.OnDemandBaseCapacity, err = p.intOr(distPrefix+"OnDemandBaseCapacity", d.OnDemandBaseCapacity); err != nil {
		return d, err
	}
	if d.OnDemandPercentageAboveBaseCapacity, err = p.intOr(distPrefix+"OnDemandPercentageAboveBaseCapacity",
		d.OnDemandPercentageAboveBaseCapacity); err != nil {
		return d, err
	}
	if d.SpotInstancePools, err = p.intOr(distPrefix+"SpotInstancePools", d.SpotInstancePools); err != nil {
		return d, err
	}
	return d, validateDistribution(d)
}

func validateDistribution(d distribution) error {
	switch {
	case !slices.Contains([]string{"prioritized", "lowest-price"}, d.OnDemandAllocationStrategy):
		return validationf("Invalid OnDemandAllocationStrategy '%s': use prioritized or lowest-price.", d.OnDemandAllocationStrategy)
	case !slices.Contains(spotStrategies, d.SpotAllocationStrategy):
		return validationf("Invalid SpotAllocationStrategy '%s': use one of %v.", d.SpotAllocationStrategy, spotStrategies)
	case d.OnDemandBaseCapacity < 0:
		return validationf("OnDemandBaseCapacity must not be negative.")
	case d.OnDemandPercentageAboveBaseCapacity < 0 || d.OnDemandPercentageAboveBaseCapacity > 100:
		return validationf("OnDemandPercentageAboveBaseCapacity must be between 0 and 100.")
	case d.SpotInstancePools < 1 || d.SpotInstancePools > 20:
		return validationf("SpotInstancePools must be between 1 and 20.")
	}
	return nil
}

// parseASTags reads Tags.member.N for group name.
func parseASTags(p params, name string) ([]asTag, error) {
	var out []asTag
	for _, n := range p.indexes("Tags.member") {
		k := p.listKey("Tags", n) + "."
		t := asTag{Key: p.str(k + "Key"), Value: p.str(k + "Value")}
		prop, err := p.boolOr(k+"PropagateAtLaunch", false)
		if err != nil {
			return nil, err
		}
		t.PropagateAtLaunch = prop
		if rt := p.str(k + "ResourceType"); rt != "" && rt != "auto-scaling-group" {
			return nil, validationf("Invalid ResourceType '%s' in Tags.member.%d: want auto-scaling-group.", rt, n)
		}
		if id := p.str(k + "ResourceId"); id != "" && name != "" && id != name {
			return nil, validationf("ResourceId '%s' in Tags.member.%d does not name this group (%s).", id, n, name)
		}
		if err := validateASTagKey(t.Key); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func validateASTagKey(key string) error {
	switch {
	case key == "":
		return validationf("Tag key must not be empty.")
	case len(key) > 128:
		return validationf("Tag key exceeds the maximum length of 128 characters.")
	case strings.HasPrefix(key, "aws:"):
		return validationf("Tag keys starting with 'aws:' are reserved for internal use.")
	}
	return nil
}

// mergeTags sets (adds or replaces) tags by key, keeping the result sorted.
func mergeTags(into []asTag, tags []asTag) []asTag {
	out := slices.Clone(into)
	for _, t := range tags {
		if i := slices.IndexFunc(out, func(x asTag) bool { return x.Key == t.Key }); i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b asTag) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// checkTemplateSpec verifies that spec names an existing template and
// version, with Auto Scaling's errors. c.mu must be held.
func (c *Cloud) checkTemplateSpec(spec templateSpec, needType bool) error {
	t, err := c.findTemplate(spec.ID, spec.Name)
	if err != nil {
		what := "ID " + spec.ID
		if spec.ID == "" {
			what = "name " + spec.Name
		}
		return validationf("You must use a valid fully-formed launch template. The specified launch template, with template %s, does not exist.", what)
	}
	v, err := t.resolveVersion(spec.Version)
	if err != nil {
		return validationf("You must use a valid fully-formed launch template. The specified launch template version %q of %s does not exist.",
			spec.Version, t.ID)
	}
	if needType && v.Data.InstanceType == "" {
		return validationf("You must use a valid fully-formed launch template. The launch template %s version %d does not specify an instance type.",
			t.ID, v.Number)
	}
	return nil
}

// checkPlacement resolves zones and subnets: subnets decide the zones when
// given; otherwise the zones must exist.
func (c *Cloud) checkPlacement(zones, subnets []string) ([]string, error) {
	if len(subnets) > 0 {
		var out []string
		for _, s := range subnets {
			z, ok := c.region.subnet(s)
			if _, vpc, peer := c.region.anySubnet(s); !ok && peer {
				return nil, validationf("The local cloud launches groups only into VPC %s; subnet '%s' is in VPC %s",
					c.region.VPCID, s, vpc)
			}
			if !ok {
				return nil, validationf("The subnet ID '%s' does not exist", s)
			}
			if !slices.Contains(out, z.Name) {
				out = append(out, z.Name)
			}
		}
		return out, nil
	}
	if len(zones) == 0 {
		return nil, validationf("At least one Availability Zone or VPC Subnet is required.")
	}
	for _, z := range zones {
		if _, ok := c.region.zone(z); !ok {
			return nil, validationf("The availability zone '%s' is not legitimate in region %s", z, c.region.Name)
		}
	}
	return slices.Compact(slices.Clone(zones)), nil
}

func checkSizes(minSize, maxSize, desired int) error {
	if minSize > maxSize {
		return validationf("Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
	}
	if desired < minSize || desired > maxSize {
		return validationf("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
	}
	return nil
}

func groupNotFound(name string) error {
	return validationf("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name)
}

func (c *Cloud) groupARN(name string) string {
	return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
		c.region.Name, AccountID, newRequestID(), name)
}
