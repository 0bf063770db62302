package localcloud

import (
	"fmt"
	"slices"
	"strings"
)

// Auto Scaling's API version (the Version parameter) and XML namespace.
const (
	autoScalingVersion   = "2011-01-01"
	autoScalingNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

// asHandler serves one Auto Scaling action; a nil result means the action
// has no output (no <ActionResult> element).
type asHandler func(p params) (any, error)

// autoScalingService is Auto Scaling, on the query protocol.
func (c *Cloud) autoScalingService() *service {
	actions := map[string]handler{}
	for name, h := range c.autoScalingHandlers() {
		actions[name] = func(in *call) (any, error) { return h(in.params) }
	}
	return &service{signingName: "autoscaling", name: "AmazonAutoScaling", version: autoScalingVersion,
		namespace: autoScalingNamespace, proto: queryProtocol{}, actions: actions}
}

// autoScalingHandlers maps Auto Scaling actions to their handlers.
func (c *Cloud) autoScalingHandlers() map[string]asHandler {
	return map[string]asHandler{
		"CreateAutoScalingGroup":              c.createGroup,
		"UpdateAutoScalingGroup":              c.updateGroup,
		"DeleteAutoScalingGroup":              c.deleteGroup,
		"DescribeAutoScalingGroups":           c.describeGroups,
		"SetDesiredCapacity":                  c.setDesiredCapacity,
		"TerminateInstanceInAutoScalingGroup": c.terminateInGroup,
		"DescribeAutoScalingInstances":        c.describeASInstances,
		"DescribeScalingActivities":           c.describeActivities,
		"CreateOrUpdateTags":                  c.createOrUpdateTags,
		"DeleteTags":                          c.deleteASTags,
		"DescribeTags":                        c.describeASTags,
		"PutLifecycleHook":                    c.putLifecycleHook,
		"DescribeLifecycleHooks":              c.describeLifecycleHooks,
		"DeleteLifecycleHook":                 c.deleteLifecycleHook,
		"CompleteLifecycleAction":             c.completeLifecycleAction,
		"RecordLifecycleActionHeartbeat":      c.recordLifecycleActionHeartbeat,
		"StartInstanceRefresh":                c.startInstanceRefresh,
		"DescribeInstanceRefreshes":           c.describeInstanceRefreshes,
		"CancelInstanceRefresh":               c.cancelInstanceRefresh,
	}
}

func (c *Cloud) createGroup(p params) (any, error) {
	in, err := parseGroupInput(p, nil)
	if err != nil {
		return nil, err
	}
	if _, err := p.required("AutoScalingGroupName"); err != nil {
		return nil, err
	}
	if in.Min == nil {
		return nil, p.requiredErr("MinSize")
	}
	if in.Max == nil {
		return nil, p.requiredErr("MaxSize")
	}
	if in.Template == nil && in.Mixed == nil {
		return nil, validationf("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	desired := *in.Min
	if in.Desired != nil {
		desired = *in.Desired
	}
	if err := checkSizes(*in.Min, *in.Max, desired); err != nil {
		return nil, err
	}
	if len(in.Tags) > 50 {
		return nil, errf(codeLimitExceeded, "The number of tags (%d) exceeds the limit of 50 per Auto Scaling group.", len(in.Tags))
	}
	hooks, err := parseHookSpecs(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.st.groups[in.Name]; exists {
		return nil, errf(codeAlreadyExists, "AutoScalingGroup by this name already exists - A group with the name %s already exists", in.Name)
	}
	zones, err := c.checkPlacement(in.Zones, in.Subnets)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC()
	g := &group{Name: in.Name, ARN: c.groupARN(in.Name), Template: in.Template, Mixed: in.Mixed,
		Min: *in.Min, Max: *in.Max, Desired: desired, DefaultCooldown: 300, Zones: zones, Subnets: in.Subnets,
		HealthCheckType: "EC2", Tags: mergeTags(nil, in.Tags), TerminationPolicies: in.TerminationPolicies,
		Hooks: hooks, Created: now}
	if err := c.applyGroupOptions(g, in); err != nil {
		return nil, err
	}
	g.Cause = fmt.Sprintf("At %s a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.",
		causeTime(now), desired)
	ch := &changes{}
	ch.putGroup(g)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("auto scaling group created", "group", g.Name, "min", g.Min, "max", g.Max, "desired", g.Desired, "zones", zones)
	c.trigger()
	return nil, nil
}

// applyGroupOptions sets the optional members of in on g and validates the
// templates g launches from. c.mu must be held.
func (c *Cloud) applyGroupOptions(g *group, in groupInput) error {
	if in.DefaultCooldown != nil {
		g.DefaultCooldown = *in.DefaultCooldown
	}
	if in.HealthCheckGracePeriod != nil {
		g.HealthCheckGracePeriod = *in.HealthCheckGracePeriod
	}
	if in.HealthCheckType != "" {
		if in.HealthCheckType != "EC2" && in.HealthCheckType != "ELB" {
			return validationf("Invalid HealthCheckType '%s': use EC2 or ELB.", in.HealthCheckType)
		}
		g.HealthCheckType = in.HealthCheckType
	}
	if len(g.TerminationPolicies) == 0 {
		g.TerminationPolicies = []string{policyDefault}
	}
	if err := checkTerminationPolicies(g.TerminationPolicies); err != nil {
		return err
	}
	if in.NewInstancesProtectedFromScaleIn != nil {
		g.NewInstancesProtectedFromScaleIn = *in.NewInstancesProtectedFromScaleIn
	}
	if in.CapacityRebalance != nil {
		g.CapacityRebalance = *in.CapacityRebalance
	}
	if g.Template != nil {
		return c.checkTemplateSpec(*g.Template, true)
	}
	if err := c.checkTemplateSpec(g.Mixed.Template, len(g.Mixed.Overrides) == 0); err != nil {
		return err
	}
	for _, o := range g.Mixed.Overrides {
		if o.Template != nil {
			if err := c.checkTemplateSpec(*o.Template, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cloud) updateGroup(p params) (any, error) {
	name, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.st.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	in, err := parseGroupInput(p, old)
	if err != nil {
		return nil, err
	}
	g := old.clone()
	switch {
	case in.Template != nil:
		g.Template, g.Mixed = in.Template, nil
	case in.Mixed != nil:
		g.Template, g.Mixed = nil, in.Mixed
	}
	if len(in.Zones) > 0 || len(in.Subnets) > 0 {
		zones, err := c.checkPlacement(in.Zones, in.Subnets)
		if err != nil {
			return nil, err
		}
		g.Zones, g.Subnets = zones, in.Subnets
	}
	if len(in.TerminationPolicies) > 0 {
		g.TerminationPolicies = in.TerminationPolicies
	}
	if err := resize(g, in.Min, in.Max, in.Desired); err != nil {
		return nil, err
	}
	if err := c.applyGroupOptions(g, in); err != nil {
		return nil, err
	}
	if g.Desired != old.Desired {
		g.Cause = fmt.Sprintf("At %s a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d "+
			"changing the desired capacity from %d to %d.", causeTime(c.clock.Now()), g.Min, g.Max, g.Desired, old.Desired, g.Desired)
	}
	ch := &changes{}
	ch.putGroup(g)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.trigger()
	return nil, nil
}

// resize applies new bounds: a new min above the desired capacity raises it,
// a new max below lowers it, as AWS does when no desired capacity is sent.
func resize(g *group, minSize, maxSize, desired *int) error {
	if minSize != nil {
		g.Min = *minSize
	}
	if maxSize != nil {
		g.Max = *maxSize
	}
	switch {
	case desired != nil:
		g.Desired = *desired
	case g.Desired < g.Min:
		g.Desired = g.Min
	case g.Desired > g.Max:
		g.Desired = g.Max
	}
	return checkSizes(g.Min, g.Max, g.Desired)
}

func (c *Cloud) deleteGroup(p params) (any, error) {
	name, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	force, err := p.boolOr("ForceDelete", false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.st.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	insts := c.groupInstances(name)
	if len(insts) > 0 && !force {
		return nil, errf(codeResourceInUse,
			"You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
	}
	now := c.clock.Now().UTC()
	ch := &changes{}
	var stops []stopRequest
	for _, inst := range insts { // ForceDelete skips the lifecycle hooks, as on AWS
		cause := fmt.Sprintf("At %s a user request deleted the AutoScalingGroup with ForceDelete, terminating instance %s.",
			causeTime(now), inst.ID)
		stop, err := c.terminateNow(ch, g, inst, cause, "Client.UserInitiatedShutdown", now)
		if err != nil {
			return nil, err
		}
		if stop != nil {
			stops = append(stops, *stop)
		}
	}
	ch.deleteGroup(name)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	delete(c.retryAt, name)
	c.startStops(stops)
	c.log.Info("auto scaling group deleted", "group", name, "terminated", len(stops))
	return nil, nil
}

func (c *Cloud) describeGroups(p params) (any, error) {
	names := p.list("AutoScalingGroupNames")
	return describe(&c.mu, p, describeOp[*group, any]{
		page:  pageLimits{param: "MaxRecords", def: 50, lo: 1, hi: 100},
		match: groupMatches,
		list: func() ([]*group, error) {
			var groups []*group
			for _, g := range c.st.groups {
				if len(names) == 0 || slices.Contains(names, g.Name) {
					groups = append(groups, g)
				}
			}
			return groups, nil
		},
		key: func(g *group) string { return g.Name },
		encode: func(page []*group, next string) any {
			res := &describeGroupsResult{Groups: members[groupXML]{}, NextToken: next}
			for _, g := range page {
				res.Groups = append(res.Groups, c.groupXML(g))
			}
			return res
		},
	})
}

// groupMatches applies DescribeAutoScalingGroups filters: tag-key,
// tag-value and tag:<key>, values matched exactly.
func groupMatches(g *group, filters []filter) (bool, error) {
	for _, f := range filters {
		var match bool
		switch {
		case f.Name == "tag-key":
			match = slices.ContainsFunc(g.Tags, func(t asTag) bool { return slices.Contains(f.Values, t.Key) })
		case f.Name == "tag-value":
			match = slices.ContainsFunc(g.Tags, func(t asTag) bool { return slices.Contains(f.Values, t.Value) })
		case strings.HasPrefix(f.Name, "tag:"):
			key := strings.TrimPrefix(f.Name, "tag:")
			match = slices.ContainsFunc(g.Tags, func(t asTag) bool { return t.Key == key && slices.Contains(f.Values, t.Value) })
		default:
			return false, validationf("Filter name '%s' is not valid: use tag-key, tag-value or tag:<key>.", f.Name)
		}
		if !match {
			return false, nil
		}
	}
	return true, nil
}

func (c *Cloud) setDesiredCapacity(p params) (any, error) {
	name, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	if _, err := p.required("DesiredCapacity"); err != nil {
		return nil, err
	}
	desired, err := p.intOr("DesiredCapacity", 0)
	if err != nil {
		return nil, err
	}
	if _, err := p.optBool("HonorCooldown"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.st.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	switch {
	case desired > old.Max:
		return nil, validationf("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", desired, old.Max)
	case desired < old.Min:
		return nil, validationf("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", desired, old.Min)
	case desired == old.Desired:
		return nil, nil
	}
	g := old.clone()
	g.Desired = desired
	g.Cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
		causeTime(c.clock.Now()), old.Desired, desired)
	ch := &changes{}
	ch.putGroup(g)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("desired capacity set", "group", name, "from", old.Desired, "to", desired)
	c.trigger()
	return nil, nil
}
