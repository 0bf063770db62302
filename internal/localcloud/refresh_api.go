package localcloud

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The instance refresh API: StartInstanceRefresh, DescribeInstanceRefreshes
// and CancelInstanceRefresh, with AWS's shapes and errors. refresh.go
// runs the refreshes.

// Instance refresh error codes.
const (
	codeInstanceRefreshInProgress     = "InstanceRefreshInProgress"
	codeActiveInstanceRefreshNotFound = "ActiveInstanceRefreshNotFound"
)

// maxRefreshesPerGroup is how many ended refreshes a group remembers.
const maxRefreshesPerGroup = 50

type refreshPreferencesXML struct {
	MinHealthyPercentage      int           `xml:"MinHealthyPercentage"`
	InstanceWarmup            *int          `xml:"InstanceWarmup,omitempty"`
	CheckpointPercentages     *members[int] `xml:"CheckpointPercentages,omitempty"`
	CheckpointDelay           *int          `xml:"CheckpointDelay,omitempty"`
	SkipMatching              bool          `xml:"SkipMatching"`
	AutoRollback              bool          `xml:"AutoRollback"`
	ScaleInProtectedInstances string        `xml:"ScaleInProtectedInstances"`
	StandbyInstances          string        `xml:"StandbyInstances"`
	MaxHealthyPercentage      int           `xml:"MaxHealthyPercentage"`
}

type poolProgressXML struct {
	PercentageComplete int `xml:"PercentageComplete"`
	InstancesToUpdate  int `xml:"InstancesToUpdate"`
}

type instanceRefreshXML struct {
	ID                 string   `xml:"InstanceRefreshId"`
	GroupName          string   `xml:"AutoScalingGroupName"`
	Status             string   `xml:"Status"`
	StatusReason       string   `xml:"StatusReason,omitempty"`
	StartTime          *xmlTime `xml:"StartTime,omitempty"`
	EndTime            *xmlTime `xml:"EndTime,omitempty"`
	PercentageComplete int      `xml:"PercentageComplete"`
	InstancesToUpdate  int      `xml:"InstancesToUpdate"`
	ProgressDetails    struct{ LivePoolProgress poolProgressXML }
	Preferences        refreshPreferencesXML `xml:"Preferences"`
	Desired            *struct {
		LaunchTemplate templateSpec `xml:"LaunchTemplate"`
	} `xml:"DesiredConfiguration,omitempty"`
	Strategy string `xml:"Strategy"`
}

type startRefreshResult struct {
	ID string `xml:"InstanceRefreshId"`
}

type describeRefreshesResult struct {
	Refreshes members[instanceRefreshXML] `xml:"InstanceRefreshes"`
	NextToken string                      `xml:"NextToken,omitempty"`
}

func (r *instanceRefresh) xml(group string) instanceRefreshXML {
	x := instanceRefreshXML{ID: r.ID, GroupName: group, Status: r.Status, StatusReason: r.StatusReason,
		StartTime: tsp(r.Start), EndTime: tsp(r.End), PercentageComplete: r.percentage(), InstancesToUpdate: r.InstancesLeft,
		Strategy: "Rolling"}
	x.ProgressDetails.LivePoolProgress = poolProgressXML{PercentageComplete: x.PercentageComplete, InstancesToUpdate: x.InstancesToUpdate}
	p := r.Prefs
	x.Preferences = refreshPreferencesXML{MinHealthyPercentage: p.MinHealthyPercentage, InstanceWarmup: p.InstanceWarmup,
		CheckpointDelay: p.CheckpointDelay, SkipMatching: p.SkipMatching, ScaleInProtectedInstances: "Ignore",
		StandbyInstances: "Ignore", MaxHealthyPercentage: p.MaxHealthyPercentage}
	if len(p.CheckpointPercentages) > 0 {
		x.Preferences.CheckpointPercentages = ptr(members[int](p.CheckpointPercentages))
	}
	if r.Desired != nil {
		x.Desired = &struct {
			LaunchTemplate templateSpec `xml:"LaunchTemplate"`
		}{*r.Desired}
	}
	return x
}

// listedRefresh is a refresh and its place in its group's list.
type listedRefresh struct {
	r   instanceRefresh
	seq int
}

// refreshKey orders refreshes newest first.
func refreshKey(l listedRefresh) string {
	return fmt.Sprintf("%020d/%06d", math.MaxInt64-l.r.Start.UnixNano(), maxRefreshesPerGroup-l.seq)
}

// percentRange is the model's error for an integer member out of range.
func percentRange(key string, v, lo, hi int) error {
	bound := fmt.Sprintf("greater than or equal to %d", lo)
	if v > hi {
		bound = fmt.Sprintf("less than or equal to %d", hi)
	}
	return validationf("1 validation error detected: Value '%d' at 'preferences.%s' failed to satisfy constraint: "+
		"Member must have value %s", v, lowerFirst(key), bound)
}

// parsePreferences reads Preferences.*, defaulted and validated.
func parsePreferences(p params) (refreshPreferences, error) {
	const prefix = "Preferences."
	prefs := refreshPreferences{MinHealthyPercentage: 90, MaxHealthyPercentage: 100}
	ints := []struct {
		key    string
		dst    *int
		lo, hi int
	}{{"MinHealthyPercentage", &prefs.MinHealthyPercentage, 0, 100}, {"MaxHealthyPercentage", &prefs.MaxHealthyPercentage, 100, 200}}
	for _, f := range ints {
		v, err := p.intOr(prefix+f.key, *f.dst)
		if err != nil {
			return prefs, err
		}
		if v < f.lo || v > f.hi {
			return prefs, percentRange(f.key, v, f.lo, f.hi)
		}
		*f.dst = v
	}
	if p.has(prefix+"MaxHealthyPercentage") && !p.has(prefix+"MinHealthyPercentage") {
		return prefs, validationf("MinHealthyPercentage must be specified when MaxHealthyPercentage is specified.")
	}
	if prefs.MaxHealthyPercentage-prefs.MinHealthyPercentage > 100 {
		return prefs, validationf("The difference between MaxHealthyPercentage (%d) and MinHealthyPercentage (%d) must be less "+
			"than or equal to 100.", prefs.MaxHealthyPercentage, prefs.MinHealthyPercentage)
	}
	optional := []struct {
		key     string
		dst     **int
		lo, max int
	}{{"InstanceWarmup", &prefs.InstanceWarmup, 0, math.MaxInt32}, {"CheckpointDelay", &prefs.CheckpointDelay, 0, 172800}}
	for _, f := range optional {
		v, err := p.optInt(prefix + f.key)
		if err != nil {
			return prefs, err
		}
		if v != nil && (*v < f.lo || *v > f.max) {
			return prefs, percentRange(f.key, *v, f.lo, f.max)
		}
		*f.dst = v
	}
	for _, s := range p.list(prefix + "CheckpointPercentages") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return prefs, validationf("Invalid CheckpointPercentages value '%s': each must be between 1 and 100.", s)
		}
		prefs.CheckpointPercentages = append(prefs.CheckpointPercentages, n)
	}
	skip, err := p.boolOr(prefix+"SkipMatching", false)
	prefs.SkipMatching = skip
	return prefs, err
}

// parseRefreshInput reads StartInstanceRefresh's members but the group.
func parseRefreshInput(p params) (refreshPreferences, *templateSpec, error) {
	if s := p.str("Strategy"); s != "" && s != "Rolling" {
		return refreshPreferences{}, nil, validationf("Strategy '%s' is not supported by the local cloud: use Rolling.", s)
	}
	if p.hasPrefix("DesiredConfiguration.MixedInstancesPolicy.") {
		return refreshPreferences{}, nil, validationf("DesiredConfiguration.MixedInstancesPolicy is not supported by the local cloud: " +
			"use DesiredConfiguration.LaunchTemplate.")
	}
	var desired *templateSpec
	if p.hasPrefix("DesiredConfiguration.LaunchTemplate.") {
		spec, err := parseTemplateSpec(p, "DesiredConfiguration.LaunchTemplate.")
		if err != nil {
			return refreshPreferences{}, nil, err
		}
		desired = &spec
	}
	prefs, err := parsePreferences(p)
	return prefs, desired, err
}

func (c *Cloud) startInstanceRefresh(p params) (any, error) {
	name, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	prefs, desired, err := parseRefreshInput(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.st.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	if g.activeRefresh() != nil {
		return nil, errf(codeInstanceRefreshInProgress, "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
	}
	spec := g.baseTemplate()
	if desired != nil {
		if err := c.checkTemplateSpec(*desired, g.Mixed == nil || len(g.Mixed.Overrides) == 0); err != nil {
			return nil, err
		}
		spec = *desired
	}
	t, v, err := c.resolveSpec(spec)
	if err != nil || t == nil {
		return nil, validationf("The launch template of AutoScalingGroup '%s' no longer exists.", name)
	}
	now := c.clock.Now().UTC()
	r := instanceRefresh{ID: newRequestID(), Status: refreshPending, Start: now, Prefs: prefs, Desired: desired,
		Target: templateSpec{ID: t.ID, Version: strconv.FormatInt(v.Number, 10)}}
	for _, inst := range c.groupInstances(name) {
		matches := inst.Template.ID == r.Target.ID && inst.Template.Version == r.Target.Version
		if inst.State.active() && !inst.ProtectedFromScaleIn && !(prefs.SkipMatching && matches) {
			r.ToReplace = append(r.ToReplace, inst.ID)
		}
	}
	r.InstancesLeft = len(r.ToReplace)
	ng := g.clone()
	ng.Refreshes = append(ng.Refreshes, r)
	if n := len(ng.Refreshes); n > maxRefreshesPerGroup {
		ng.Refreshes = slices.Clone(ng.Refreshes[n-maxRefreshesPerGroup:])
	}
	ch := &changes{}
	ch.putGroup(ng)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("instance refresh started", "group", name, "refresh", r.ID, "replace", r.ToReplace,
		"minHealthy", prefs.MinHealthyPercentage, "maxHealthy", prefs.MaxHealthyPercentage)
	c.trigger()
	return &startRefreshResult{ID: r.ID}, nil
}

func (c *Cloud) describeInstanceRefreshes(p params) (any, error) {
	name, ids := p.str("AutoScalingGroupName"), p.list("InstanceRefreshIds")
	return describe(&c.mu, p, describeOp[listedRefresh, any]{
		page: pageLimits{param: "MaxRecords", def: 50, lo: 1, hi: 100},
		check: func([]filter) error {
			_, err := p.required("AutoScalingGroupName")
			return err
		},
		list: func() ([]listedRefresh, error) {
			g, ok := c.st.groups[name]
			if !ok {
				return nil, nil
			}
			var out []listedRefresh
			for i, r := range g.Refreshes {
				if len(ids) == 0 || slices.Contains(ids, r.ID) {
					out = append(out, listedRefresh{r: r, seq: i})
				}
			}
			return out, nil
		},
		key: refreshKey,
		encode: func(page []listedRefresh, next string) any {
			res := &describeRefreshesResult{Refreshes: members[instanceRefreshXML]{}, NextToken: next}
			for _, l := range page {
				res.Refreshes = append(res.Refreshes, l.r.xml(name))
			}
			return res
		},
	})
}

func (c *Cloud) cancelInstanceRefresh(p params) (any, error) {
	name, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	if _, err := p.optBool("WaitForTransitioningInstances"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.st.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	r := g.activeRefresh()
	if r == nil || r.Status == refreshCancelling {
		return nil, errf(codeActiveInstanceRefreshNotFound, "No in progress or pending Instance Refresh found for Auto Scaling group %s", name)
	}
	ng := g.clone()
	i := slices.IndexFunc(ng.Refreshes, func(x instanceRefresh) bool { return x.ID == r.ID })
	ng.Refreshes[i].Status = refreshCancelling
	ng.Refreshes[i].StatusReason = "Cancellation requested by the user."
	ch := &changes{}
	ch.putGroup(ng)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("instance refresh cancelling", "group", name, "refresh", r.ID)
	c.trigger()
	return &startRefreshResult{ID: r.ID}, nil
}
