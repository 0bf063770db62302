package localcloud

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

func (c *Cloud) terminateInGroup(p params) (any, error) {
	id, err := p.required("InstanceId")
	if err != nil {
		return nil, err
	}
	if _, err := p.required("ShouldDecrementDesiredCapacity"); err != nil {
		return nil, err
	}
	decrement, err := p.boolOr("ShouldDecrementDesiredCapacity", false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	var g *group
	if inst != nil {
		g = c.st.groups[inst.Group]
	}
	if inst == nil || g == nil || inst.State == stateTerminated {
		return nil, validationf("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	if inst.State == stateTerminating {
		return nil, validationf("The instance %s is already terminating.", id)
	}
	now := c.clock.Now().UTC()
	ch := &changes{}
	cause := fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.", causeTime(now), id)
	if decrement {
		if g.Desired-1 < g.Min {
			return nil, validationf("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate "+
				"group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.Min)
		}
		ng := g.clone()
		ng.Desired--
		ch.putGroup(ng)
		cause = fmt.Sprintf("At %s instance %s was taken out of service in response to a user request, shrinking the capacity from %d to %d.",
			causeTime(now), id, g.Desired, ng.Desired)
	}
	stop, err := c.beginTermination(ch, g, inst, cause, "Client.UserInitiatedShutdown", now)
	if err != nil {
		return nil, err
	}
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.startStops([]stopRequest{stop})
	c.trigger()
	c.log.Info("instance terminated by request", "instance", id, "group", g.Name, "decrement", decrement)
	return &activityResult{Activity: c.st.activities[stop.ActivityID].xml()}, nil
}

func (c *Cloud) describeASInstances(p params) (any, error) {
	size, err := p.pageSize("MaxRecords", 50, 1, 50)
	if err != nil {
		return nil, err
	}
	ids := p.list("InstanceIds")
	c.mu.Lock()
	defer c.mu.Unlock()
	var insts []*instance
	for _, inst := range c.st.instances {
		if inst.State == stateTerminated || c.st.groups[inst.Group] == nil {
			continue
		}
		if len(ids) == 0 || slices.Contains(ids, inst.ID) {
			insts = append(insts, inst)
		}
	}
	slices.SortFunc(insts, func(a, b *instance) int { return cmp.Compare(a.ID, b.ID) })
	page, next, ok := paginate(insts, func(i *instance) string { return i.ID }, p.str("NextToken"), size)
	if !ok {
		return nil, p.badToken()
	}
	res := &describeASInstancesResult{Instances: members[asInstanceXML]{}, NextToken: next}
	for _, inst := range page {
		res.Instances = append(res.Instances, asInstanceXML{InstanceID: inst.ID, InstanceType: inst.Type,
			GroupName: inst.Group, AvailabilityZone: inst.Zone, LifecycleState: string(inst.State),
			HealthStatus: "HEALTHY", LaunchTemplate: ptr(inst.Template), ProtectedFromScaleIn: inst.ProtectedFromScaleIn})
	}
	return res, nil
}

// activityKey orders activities newest first, ties by id.
func activityKey(a *activity) string {
	return fmt.Sprintf("%020d/%s", math.MaxInt64-a.Start.UnixNano(), a.ID)
}

func (c *Cloud) describeActivities(p params) (any, error) {
	size, err := p.pageSize("MaxRecords", 100, 1, 100)
	if err != nil {
		return nil, err
	}
	includeDeleted, err := p.boolOr("IncludeDeletedGroups", false)
	if err != nil {
		return nil, err
	}
	ids, name := p.list("ActivityIds"), p.str("AutoScalingGroupName")
	c.mu.Lock()
	defer c.mu.Unlock()
	var acts []*activity
	for _, a := range c.st.activities {
		switch {
		case len(ids) > 0 && !slices.Contains(ids, a.ID),
			name != "" && a.Group != name,
			!includeDeleted && len(ids) == 0 && c.st.groups[a.Group] == nil:
			continue
		}
		acts = append(acts, a)
	}
	slices.SortFunc(acts, func(a, b *activity) int { return cmp.Compare(activityKey(a), activityKey(b)) })
	page, next, ok := paginate(acts, activityKey, p.str("NextToken"), size)
	if !ok {
		return nil, p.badToken()
	}
	res := &describeActivitiesResult{Activities: members[activityXML]{}, NextToken: next}
	for _, a := range page {
		res.Activities = append(res.Activities, a.xml())
	}
	return res, nil
}

// groupTag is a tag sent to CreateOrUpdateTags or DeleteTags.
type groupTag struct {
	Group string
	Tag   asTag
}

func parseGroupTags(p params) ([]groupTag, error) {
	var out []groupTag
	for _, n := range p.indexes("Tags.member") {
		k := p.listKey("Tags", n) + "."
		gt := groupTag{Group: p.str(k + "ResourceId"), Tag: asTag{Key: p.str(k + "Key"), Value: p.str(k + "Value")}}
		prop, err := p.boolOr(k+"PropagateAtLaunch", false)
		if err != nil {
			return nil, err
		}
		gt.Tag.PropagateAtLaunch = prop
		if gt.Group == "" {
			return nil, validationf("Tags.member.%d.ResourceId is required.", n)
		}
		if rt := p.str(k + "ResourceType"); rt != "auto-scaling-group" {
			return nil, validationf("Tags.member.%d.ResourceType must be auto-scaling-group, not '%s'.", n, rt)
		}
		if err := validateASTagKey(gt.Tag.Key); err != nil {
			return nil, err
		}
		out = append(out, gt)
	}
	if len(out) == 0 {
		return nil, p.requiredErr("Tags")
	}
	return out, nil
}

// updateGroupTags applies edit to the tags of every group named in tags.
func (c *Cloud) updateGroupTags(p params, edit func(g *group, t asTag)) error {
	tags, err := parseGroupTags(p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := map[string]*group{}
	for _, gt := range tags {
		g := changed[gt.Group]
		if g == nil {
			old, ok := c.st.groups[gt.Group]
			if !ok {
				return groupNotFound(gt.Group)
			}
			g = old.clone()
			changed[gt.Group] = g
		}
		edit(g, gt.Tag)
	}
	ch := &changes{}
	for _, g := range changed {
		if len(g.Tags) > 50 {
			return errf(codeLimitExceeded, "The number of tags (%d) exceeds the limit of 50 for Auto Scaling group %s.", len(g.Tags), g.Name)
		}
		ch.putGroup(g)
	}
	return c.commit(ch)
}

func (c *Cloud) createOrUpdateTags(p params) (any, error) {
	err := c.updateGroupTags(p, func(g *group, t asTag) { g.Tags = mergeTags(g.Tags, []asTag{t}) })
	return nil, err
}

func (c *Cloud) deleteASTags(p params) (any, error) {
	err := c.updateGroupTags(p, func(g *group, t asTag) {
		g.Tags = slices.DeleteFunc(g.Tags, func(x asTag) bool { return x.Key == t.Key })
	})
	return nil, err
}

func (c *Cloud) describeASTags(p params) (any, error) {
	size, err := p.pageSize("MaxRecords", 50, 1, 100)
	if err != nil {
		return nil, err
	}
	filters, err := p.filters()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []tagDescription
	for _, g := range c.st.groups {
		for _, t := range g.tagDescriptions() {
			ok, err := asTagMatches(t, filters)
			if err != nil {
				return nil, err
			}
			if ok {
				all = append(all, t)
			}
		}
	}
	key := func(t tagDescription) string { return t.ResourceID + "\x00" + t.Key }
	slices.SortFunc(all, func(a, b tagDescription) int { return cmp.Compare(key(a), key(b)) })
	page, next, ok := paginate(all, key, p.str("NextToken"), size)
	if !ok {
		return nil, p.badToken()
	}
	return &describeTagsResult{Tags: append(members[tagDescription]{}, page...), NextToken: next}, nil
}

func asTagMatches(t tagDescription, filters []filter) (bool, error) {
	for _, f := range filters {
		var v string
		switch f.Name {
		case "auto-scaling-group":
			v = t.ResourceID
		case "key":
			v = t.Key
		case "value":
			v = t.Value
		case "propagate-at-launch":
			v = strconv.FormatBool(t.PropagateAtLaunch)
		default:
			return false, validationf("Filter name '%s' is not valid: use auto-scaling-group, key, value or propagate-at-launch.", f.Name)
		}
		if !slices.Contains(f.Values, v) {
			return false, nil
		}
	}
	return true, nil
}
