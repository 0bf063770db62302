package localcloud

import (
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
	if !inst.State.active() {
		return nil, validationf("The instance %s is already terminating (%s).", id, inst.State)
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
	out, err := c.leave(ch, g, inst, cause, "Client.UserInitiatedShutdown", now)
	if err != nil {
		return nil, err
	}
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.follow([]outcome{out})
	c.log.Info("instance terminated by request", "instance", id, "group", g.Name, "decrement", decrement)
	return &activityResult{Activity: c.st.activities[c.st.instances[id].TerminateActivity].xml()}, nil
}

func (c *Cloud) describeASInstances(p params) (any, error) {
	ids := p.list("InstanceIds")
	return describe(&c.mu, p, describeOp[*instance, any]{
		page: pageLimits{param: "MaxRecords", def: 50, lo: 1, hi: 50},
		list: func() ([]*instance, error) {
			var insts []*instance
			for _, inst := range c.st.instances {
				if inst.State == stateTerminated || c.st.groups[inst.Group] == nil {
					continue
				}
				if len(ids) == 0 || slices.Contains(ids, inst.ID) {
					insts = append(insts, inst)
				}
			}
			return insts, nil
		},
		key: func(i *instance) string { return i.ID },
		encode: func(page []*instance, next string) any {
			res := &describeASInstancesResult{Instances: members[asInstanceXML]{}, NextToken: next}
			for _, inst := range page {
				res.Instances = append(res.Instances, asInstanceXML{InstanceID: inst.ID, InstanceType: inst.Type,
					GroupName: inst.Group, AvailabilityZone: inst.Zone, LifecycleState: string(inst.State),
					HealthStatus: "HEALTHY", LaunchTemplate: ptr(inst.Template), ProtectedFromScaleIn: inst.ProtectedFromScaleIn})
			}
			return res
		},
	})
}

// activityKey orders activities newest first, ties by id.
func activityKey(a *activity) string {
	return fmt.Sprintf("%020d/%s", math.MaxInt64-a.Start.UnixNano(), a.ID)
}

func (c *Cloud) describeActivities(p params) (any, error) {
	ids, name := p.list("ActivityIds"), p.str("AutoScalingGroupName")
	var includeDeleted bool
	return describe(&c.mu, p, describeOp[*activity, any]{
		page: pageLimits{param: "MaxRecords", def: 100, lo: 1, hi: 100},
		check: func([]filter) (err error) {
			includeDeleted, err = p.boolOr("IncludeDeletedGroups", false)
			return err
		},
		list: func() ([]*activity, error) {
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
			return acts, nil
		},
		key: activityKey,
		encode: func(page []*activity, next string) any {
			res := &describeActivitiesResult{Activities: members[activityXML]{}, NextToken: next}
			for _, a := range page {
				res.Activities = append(res.Activities, a.xml())
			}
			return res
		},
	})
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
	return describe(&c.mu, p, describeOp[tagDescription, any]{
		page:  pageLimits{param: "MaxRecords", def: 50, lo: 1, hi: 100},
		match: asTagMatches,
		list: func() ([]tagDescription, error) {
			var all []tagDescription
			for _, g := range c.st.groups {
				all = append(all, g.tagDescriptions()...)
			}
			return all, nil
		},
		key: func(t tagDescription) string { return t.ResourceID + "\x00" + t.Key },
		encode: func(page []tagDescription, next string) any {
			return &describeTagsResult{Tags: append(members[tagDescription]{}, page...), NextToken: next}
		},
	})
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
