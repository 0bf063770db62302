package localcloud

import (
	"regexp"
	"slices"
	"time"
)

// Lifecycle hooks, as Auto Scaling defines them: a hook on a group's
// launching or terminating transition holds each instance that takes it in
// Pending:Wait or Terminating:Wait until every hook's action is completed
// (CompleteLifecycleAction), times out (HeartbeatTimeout, which
// RecordLifecycleActionHeartbeat restarts, bounded by the global timeout)
// or is abandoned. hookwait.go moves the instances; this file is the API.

// Lifecycle transitions and results, as AWS spells them.
const (
	transitionLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	transitionTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
	resultContinue        = "CONTINUE"
	resultAbandon         = "ABANDON"
)

// Lifecycle hook limits.
const (
	minHeartbeatTimeout     = 30
	maxHeartbeatTimeout     = 7200
	defaultHeartbeatTimeout = 3600
	maxGlobalTimeout        = 172800 // 48 hours
	maxHooksPerGroup        = 50
)

var hookNamePattern = regexp.MustCompile(`^[A-Za-z0-9\-_/]+$`)

// lifecycleHook is a group's lifecycle hook.
type lifecycleHook struct {
	Name, Transition      string
	HeartbeatTimeout      int // seconds
	DefaultResult         string
	NotificationMetadata  string `json:",omitempty"`
	NotificationTargetARN string `json:",omitempty"`
	RoleARN               string `json:",omitempty"`
}

// globalTimeout is the longest an instance waits on the hook, in seconds:
// 100 heartbeat timeouts, at most 48 hours.
func (h lifecycleHook) globalTimeout() int { return min(100*h.HeartbeatTimeout, maxGlobalTimeout) }

// hooksOf returns g's hooks of a transition, in creation order.
func (g *group) hooksOf(transition string) []lifecycleHook {
	var out []lifecycleHook
	for _, h := range g.Hooks {
		if h.Transition == transition {
			out = append(out, h)
		}
	}
	return out
}

type lifecycleHookXML struct {
	Name                  string `xml:"LifecycleHookName"`
	GroupName             string `xml:"AutoScalingGroupName"`
	Transition            string `xml:"LifecycleTransition"`
	NotificationTargetARN string `xml:"NotificationTargetARN,omitempty"`
	RoleARN               string `xml:"RoleARN,omitempty"`
	NotificationMetadata  string `xml:"NotificationMetadata,omitempty"`
	HeartbeatTimeout      int    `xml:"HeartbeatTimeout"`
	GlobalTimeout         int    `xml:"GlobalTimeout"`
	DefaultResult         string `xml:"DefaultResult"`
}

// emptyResult renders an empty <ActionResult> element: the model of
// these actions has a result wrapper with no members, and the SDK expects it.
type emptyResult struct{}

type describeHooksResult struct {
	Hooks members[lifecycleHookXML] `xml:"LifecycleHooks"`
}

func (h lifecycleHook) xml(group string) lifecycleHookXML {
	return lifecycleHookXML{Name: h.Name, GroupName: group, Transition: h.Transition,
		NotificationTargetARN: h.NotificationTargetARN, RoleARN: h.RoleARN, NotificationMetadata: h.NotificationMetadata,
		HeartbeatTimeout: h.HeartbeatTimeout, GlobalTimeout: h.globalTimeout(), DefaultResult: h.DefaultResult}
}

// checkHookName validates a LifecycleHookName as the model constrains it.
func checkHookName(key, name string) error {
	switch {
	case len(name) > 255:
		return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
			"Member must have length less than or equal to 255", name, lowerFirst(lastSegment(key)))
	case !hookNamePattern.MatchString(name):
		return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
			`Member must satisfy regular expression pattern: [A-Za-z0-9\-_\/]+`, name, lowerFirst(lastSegment(key)))
	}
	return nil
}

// parseHook reads a hook's members under prefix ("" for PutLifecycleHook,
// "LifecycleHookSpecificationList.member.N." for CreateAutoScalingGroup)
// over base (the hook being updated, or the defaults).
func parseHook(p params, prefix string, base lifecycleHook) (lifecycleHook, error) {
	h := base
	h.Name = p.str(prefix + "LifecycleHookName")
	if err := checkHookName(prefix+"LifecycleHookName", h.Name); err != nil {
		return h, err
	}
	strs := []struct {
		key string
		dst *string
	}{{"LifecycleTransition", &h.Transition}, {"DefaultResult", &h.DefaultResult},
		{"NotificationMetadata", &h.NotificationMetadata}, {"NotificationTargetARN", &h.NotificationTargetARN},
		{"RoleARN", &h.RoleARN}}
	for _, s := range strs {
		if p.has(prefix + s.key) {
			*s.dst = p.str(prefix + s.key)
		}
	}
	timeout, err := p.intOr(prefix+"HeartbeatTimeout", h.HeartbeatTimeout)
	if err != nil {
		return h, err
	}
	h.HeartbeatTimeout = timeout
	return h, h.validate()
}

func (h lifecycleHook) validate() error {
	switch {
	case h.Transition == "":
		return validationf("LifecycleTransition is required to create lifecycle hook %s: use %s or %s.",
			h.Name, transitionLaunching, transitionTerminating)
	case h.Transition != transitionLaunching && h.Transition != transitionTerminating:
		return validationf("Invalid Lifecycle Transition '%s': use %s or %s.", h.Transition, transitionLaunching, transitionTerminating)
	case h.HeartbeatTimeout < minHeartbeatTimeout || h.HeartbeatTimeout > maxHeartbeatTimeout:
		return validationf("Heartbeat timeout %d for lifecycle hook %s is out of range: it must be between %d and %d seconds.",
			h.HeartbeatTimeout, h.Name, minHeartbeatTimeout, maxHeartbeatTimeout)
	case h.DefaultResult != resultContinue && h.DefaultResult != resultAbandon:
		return validationf("Invalid DefaultResult '%s' for lifecycle hook %s: use CONTINUE or ABANDON.", h.DefaultResult, h.Name)
	case len(h.NotificationMetadata) > 4000:
		return validationf("NotificationMetadata of lifecycle hook %s is %d characters long; the maximum is 4000.",
			h.Name, len(h.NotificationMetadata))
	}
	return nil
}

// newHookDefaults is a hook before a request sets its members.
func newHookDefaults() lifecycleHook {
	return lifecycleHook{HeartbeatTimeout: defaultHeartbeatTimeout, DefaultResult: resultAbandon}
}

// parseHookSpecs reads CreateAutoScalingGroup's LifecycleHookSpecificationList.
func parseHookSpecs(p params) ([]lifecycleHook, error) {
	var out []lifecycleHook
	for _, n := range p.indexes("LifecycleHookSpecificationList.member") {
		h, err := parseHook(p, p.listKey("LifecycleHookSpecificationList", n)+".", newHookDefaults())
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(x lifecycleHook) bool { return x.Name == h.Name }) {
			return nil, validationf("Lifecycle hook %s is specified more than once.", h.Name)
		}
		out = append(out, h)
	}
	if len(out) > maxHooksPerGroup {
		return nil, errf(codeLimitExceeded, "%d lifecycle hooks exceed the limit of %d per Auto Scaling group.", len(out), maxHooksPerGroup)
	}
	return out, nil
}

// hookTarget reads the hook and group a Put or Delete of a hook names.
func hookTarget(p params) (name, group string, err error) {
	if name, err = p.required("LifecycleHookName"); err != nil {
		return "", "", err
	}
	group, err = p.required("AutoScalingGroupName")
	return name, group, err
}

func (c *Cloud) putLifecycleHook(p params) (any, error) {
	name, groupName, err := hookTarget(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.st.groups[groupName]
	if !ok {
		return nil, groupNotFound(groupName)
	}
	base, i := newHookDefaults(), slices.IndexFunc(old.Hooks, func(h lifecycleHook) bool { return h.Name == name })
	if i >= 0 {
		base = old.Hooks[i]
	}
	h, err := parseHook(p, "", base)
	if err != nil {
		return nil, err
	}
	g := old.clone()
	if i >= 0 {
		g.Hooks[i] = h
	} else {
		if len(g.Hooks) >= maxHooksPerGroup {
			return nil, errf(codeLimitExceeded, "Auto Scaling group %s already has %d lifecycle hooks, the limit.", groupName, maxHooksPerGroup)
		}
		g.Hooks = append(g.Hooks, h)
	}
	ch := &changes{}
	ch.putGroup(g)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("lifecycle hook put", "group", groupName, "hook", name, "transition", h.Transition,
		"heartbeatTimeout", h.HeartbeatTimeout, "defaultResult", h.DefaultResult)
	return &emptyResult{}, nil
}

func (c *Cloud) describeLifecycleHooks(p params) (any, error) {
	groupName, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	names := p.list("LifecycleHookNames")
	if len(names) > maxHooksPerGroup {
		return nil, validationf("1 validation error detected: Value at 'lifecycleHookNames' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d", maxHooksPerGroup)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.st.groups[groupName]
	if !ok {
		return nil, groupNotFound(groupName)
	}
	res := &describeHooksResult{Hooks: members[lifecycleHookXML]{}}
	for _, h := range g.Hooks {
		if len(names) == 0 || slices.Contains(names, h.Name) {
			res.Hooks = append(res.Hooks, h.xml(g.Name))
		}
	}
	return res, nil
}

func (c *Cloud) deleteLifecycleHook(p params) (any, error) {
	name, groupName, err := hookTarget(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.st.groups[groupName]
	if !ok {
		return nil, groupNotFound(groupName)
	}
	i := slices.IndexFunc(old.Hooks, func(h lifecycleHook) bool { return h.Name == name })
	if i < 0 {
		return nil, validationf("No Lifecycle Hook found with name %s for AutoScalingGroup %s.", name, groupName)
	}
	hook := old.Hooks[i]
	g := old.clone()
	g.Hooks = slices.Delete(g.Hooks, i, i+1)
	ch := &changes{}
	ch.putGroup(g)
	// Outstanding actions of the hook complete: CONTINUE for terminating
	// instances, ABANDON for launching ones.
	result := resultContinue
	if hook.Transition == transitionLaunching {
		result = resultAbandon
	}
	var done []outcome
	now := c.clock.Now().UTC()
	ofHook := func(a lifecycleAction) bool { return a.Hook == name }
	for _, inst := range c.groupInstances(groupName) {
		if inst.State.waiting() && slices.ContainsFunc(inst.Actions, ofHook) {
			done = append(done, c.completeAction(ch, g, inst, ofHook, result, now))
		}
	}
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.follow(done)
	c.log.Info("lifecycle hook deleted", "group", groupName, "hook", name, "completed", len(done))
	return &emptyResult{}, nil
}

// findAction finds the instance of the group waiting on the hook's action
// named by token or instance id. c.mu must be held.
func (c *Cloud) findAction(p params) (*group, *instance, string, error) {
	hook, err := p.required("LifecycleHookName")
	if err != nil {
		return nil, nil, "", err
	}
	groupName, err := p.required("AutoScalingGroupName")
	if err != nil {
		return nil, nil, "", err
	}
	token, id := p.str("LifecycleActionToken"), p.str("InstanceId")
	if token == "" && id == "" {
		return nil, nil, "", validationf("Either LifecycleActionToken or InstanceId is required.")
	}
	g, ok := c.st.groups[groupName]
	if !ok {
		return nil, nil, "", groupNotFound(groupName)
	}
	if !slices.ContainsFunc(g.Hooks, func(h lifecycleHook) bool { return h.Name == hook }) {
		return nil, nil, "", validationf("No Lifecycle Hook found with name %s for AutoScalingGroup %s.", hook, groupName)
	}
	for _, inst := range c.groupInstances(groupName) {
		if !inst.State.waiting() || (id != "" && inst.ID != id) {
			continue
		}
		for _, a := range inst.Actions {
			if a.Hook == hook && (token == "" || a.Token == token) {
				return g, inst, a.Token, nil
			}
		}
	}
	if token != "" {
		return nil, nil, "", validationf("No active Lifecycle Action found with token %s", token)
	}
	return nil, nil, "", validationf("No active Lifecycle Action found with instance ID %s", id)
}

func (c *Cloud) completeLifecycleAction(p params) (any, error) {
	result, err := p.required("LifecycleActionResult")
	if err != nil {
		return nil, err
	}
	if result != resultContinue && result != resultAbandon {
		return nil, validationf("Invalid LifecycleActionResult '%s': use CONTINUE or ABANDON.", result)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, inst, token, err := c.findAction(p)
	if err != nil {
		return nil, err
	}
	ch := &changes{}
	out := c.completeAction(ch, g, inst, func(a lifecycleAction) bool { return a.Token == token }, result, c.clock.Now().UTC())
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.follow([]outcome{out})
	c.log.Info("lifecycle action completed", "group", g.Name, "instance", inst.ID, "hook", p.str("LifecycleHookName"), "result", result)
	return &emptyResult{}, nil
}

func (c *Cloud) recordLifecycleActionHeartbeat(p params) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, inst, token, err := c.findAction(p)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC()
	next := inst.clone()
	for i, a := range next.Actions {
		if a.Token == token {
			next.Actions[i].Deadline = now.Add(time.Duration(a.HeartbeatTimeout) * time.Second)
		}
	}
	ch := &changes{}
	ch.putInstance(next)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.armActions(next)
	return &emptyResult{}, nil
}
