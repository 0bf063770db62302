package localcloud

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Resource is one resource a request acts on, as an [Authorizer] sees it:
// its ARN and its tags at the time of the request.
type Resource struct {
	ARN  string
	Tags map[string]string
}

// scope is what a request touches: the resources (none: the action takes
// no resource, "*" in IAM terms) and the tags it would put.
type scope struct {
	resources   []Resource
	requestTags map[string]string
	// context holds further condition keys ("ec2:CreateAction").
	context map[string][]string
	// dependent are the further actions AWS authorizes for this request
	// (tagging on create, launching from a template).
	dependent []dependentAction
}

// dependentAction is another action a request needs permission for.
type dependentAction struct {
	service, action string
	scope           scope
	// refused, when set, is how the request's API reports this action's
	// denial (its message the denial's); nil: as an access-denied error.
	refused func(msg string) error
}

// scopeFunc finds the scope of a request. It runs before the handler, so
// input the handler would refuse yields what can be read (the handler then
// answers the input's error to a caller allowed to make the call).
type scopeFunc func(c *Cloud, in *call) scope

// scopes is, per service and action, what the action touches: one row
// per action that acts on a resource, as AWS's service authorization
// reference lists them. Actions absent here (Describe*, List*) take no
// resource.
var scopes = map[string]map[string]scopeFunc{
	"autoscaling": {
		"CreateAutoScalingGroup":              withRunInstances(newGroupScope),
		"UpdateAutoScalingGroup":              withRunInstances(groupScope),
		"DeleteAutoScalingGroup":              groupScope,
		"SetDesiredCapacity":                  groupScope,
		"PutLifecycleHook":                    groupScope,
		"DeleteLifecycleHook":                 groupScope,
		"CompleteLifecycleAction":             groupScope,
		"RecordLifecycleActionHeartbeat":      groupScope,
		"StartInstanceRefresh":                groupScope,
		"CancelInstanceRefresh":               groupScope,
		"TerminateInstanceInAutoScalingGroup": instanceGroupScope,
		"CreateOrUpdateTags":                  groupTagsScope,
		"DeleteTags":                          groupTagsScope,
	},
	"ec2": {
		"CreateLaunchTemplate":        newTemplateScope,
		"CreateLaunchTemplateVersion": templateScope,
		"ModifyLaunchTemplate":        templateScope,
		"DeleteLaunchTemplate":        templateScope,
		"TerminateInstances":          ec2ResourcesScope("InstanceId"),
		"CreateTags":                  ec2ResourcesScope("ResourceId"),
		"DeleteTags":                  ec2ResourcesScope("ResourceId"),
	},
	"sqs": {
		"CreateQueue":                  queueScope,
		"GetQueueUrl":                  queueScope,
		"GetQueueAttributes":           queueScope,
		"SetQueueAttributes":           queueScope,
		"DeleteQueue":                  queueScope,
		"PurgeQueue":                   queueScope,
		"SendMessage":                  queueScope,
		"SendMessageBatch":             queueScope,
		"ReceiveMessage":               queueScope,
		"DeleteMessage":                queueScope,
		"DeleteMessageBatch":           queueScope,
		"ChangeMessageVisibility":      queueScope,
		"ChangeMessageVisibilityBatch": queueScope,
	},
	"events": {
		"PutRule":           ruleScope,
		"DescribeRule":      ruleScope,
		"DeleteRule":        ruleScope,
		"EnableRule":        ruleScope,
		"DisableRule":       ruleScope,
		"PutTargets":        ruleScope,
		"RemoveTargets":     ruleScope,
		"ListTargetsByRule": ruleScope,
	},
	"iam": {
		"GetInstanceProfile": func(_ *Cloud, in *call) scope {
			return scope{resources: []Resource{{ARN: InstanceProfileARN(in.params.str("InstanceProfileName"))}}}
		},
	},
}

func (s scope) access(service, action string) Access {
	return Access{Service: service, Action: action, Resources: s.resources, RequestTags: s.requestTags, Context: s.context}
}

// scopeOf is the scope of a request to svc.
func (c *Cloud) scopeOf(svc *service, in *call) scope {
	if f := scopes[svc.signingName][in.action]; f != nil {
		return f(c, in)
	}
	return scope{}
}

// groupScope: the group AutoScalingGroupName names, with its tags (a group
// that does not exist: its ARN with any id, and no tags).
func groupScope(c *Cloud, in *call) scope {
	return scope{resources: []Resource{c.groupResource(in.params.str("AutoScalingGroupName"))}}
}

// newGroupScope: the group being created, and the tags it is created with.
func newGroupScope(c *Cloud, in *call) scope {
	s := groupScope(c, in)
	s.requestTags = map[string]string{}
	for _, n := range in.params.indexes("Tags.member") {
		k := "Tags.member." + strconv.Itoa(n) + "."
		s.requestTags[in.params.str(k+"Key")] = in.params.str(k + "Value")
	}
	return s
}

// instanceGroupScope: the group of the instance InstanceId.
func instanceGroupScope(c *Cloud, in *call) scope {
	c.mu.Lock()
	name := ""
	if inst := c.st.instances[in.params.str("InstanceId")]; inst != nil {
		name = inst.Group
	}
	c.mu.Unlock()
	return scope{resources: []Resource{c.groupResource(name)}}
}

// groupTagsScope: every group Tags.member.N.ResourceId names, and the tags.
func groupTagsScope(c *Cloud, in *call) scope {
	s := scope{requestTags: map[string]string{}}
	seen := map[string]bool{}
	for _, n := range in.params.indexes("Tags.member") {
		k := "Tags.member." + strconv.Itoa(n) + "."
		s.requestTags[in.params.str(k+"Key")] = in.params.str(k + "Value")
		if id := in.params.str(k + "ResourceId"); !seen[id] {
			seen[id] = true
			s.resources = append(s.resources, c.groupResource(id))
		}
	}
	return s
}

func (c *Cloud) groupResource(name string) Resource {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.st.groups[name]
	if g == nil {
		return Resource{ARN: "arn:aws:autoscaling:" + c.region.Name + ":" + AccountID +
			":autoScalingGroup:*:autoScalingGroupName/" + name}
	}
	tags := make(map[string]string, len(g.Tags))
	for _, t := range g.Tags {
		tags[t.Key] = t.Value
	}
	return Resource{ARN: g.ARN, Tags: tags}
}

// ec2ARN is the ARN of the EC2 resource of type typ and id.
func (c *Cloud) ec2ARN(typ, id string) string {
	return "arn:aws:ec2:" + c.region.Name + ":" + AccountID + ":" + typ + "/" + id
}

// withRunInstances adds, to a group request that names a launch template
// (LaunchTemplate or MixedInstancesPolicy), ec2:RunInstances on that
// template: AWS checks that the caller may launch what it describes; and,
// when the template's version names an instance profile, iam:PassRole on
// its role with iam:PassedToService ec2.amazonaws.com.
func withRunInstances(f scopeFunc) scopeFunc {
	return func(c *Cloud, in *call) scope {
		s := f(c, in)
		for _, prefix := range []string{"LaunchTemplate.", "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification."} {
			id, name := in.params.str(prefix+"LaunchTemplateId"), in.params.str(prefix+"LaunchTemplateName")
			if id == "" && name == "" {
				continue
			}
			c.mu.Lock()
			arn, role := c.ec2ARN("launch-template", "*"), ""
			if t, err := c.findTemplate(id, name); err == nil {
				arn = c.ec2ARN("launch-template", t.ID)
				role = c.templateRole(t, in.params.str(prefix+"Version"))
			}
			c.mu.Unlock()
			// Auto Scaling says so in its own words.
			refused := func(msg string) error {
				return validationf("You are not authorized to use launch template: %s (%s)", id+name, msg)
			}
			s.dependent = append(s.dependent, dependentAction{service: "ec2", action: "RunInstances",
				scope: scope{resources: []Resource{{ARN: arn}}}, refused: refused})
			if role != "" {
				// Launching with an instance profile passes its role to EC2.
				s.dependent = append(s.dependent, dependentAction{service: "iam", action: "PassRole",
					scope: scope{resources: []Resource{{ARN: RoleARN(role)}},
						context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}}, refused: refused})
			}
		}
		return s
	}
}

// templateRole is the role of the instance profile that version v of t
// names, "" when it names none (or one that does not exist: the launch
// fails then). c.mu is held.
func (c *Cloud) templateRole(t *launchTemplate, v string) string {
	ver, err := t.resolveVersion(v)
	if err != nil || ver.Data.IamInstanceProfile == nil {
		return ""
	}
	ref := ver.Data.IamInstanceProfile
	p, ok := c.iam.profileNamed(ref.Arn + ref.Name)
	if !ok {
		return ""
	}
	return p.Role
}

// newTemplateScope: a template being created (its ARN has no id yet) and
// the tags its TagSpecification puts on it; with tags, also ec2:CreateTags
// with ec2:CreateAction CreateLaunchTemplate, as EC2 authorizes tagging on
// create.
func newTemplateScope(c *Cloud, in *call) scope {
	s := scope{resources: []Resource{{ARN: c.ec2ARN("launch-template", "*")}}, requestTags: map[string]string{}}
	for _, n := range in.params.indexes("TagSpecification") {
		k := "TagSpecification." + strconv.Itoa(n) + "."
		if in.params.str(k+"ResourceType") != "launch-template" {
			continue
		}
		for _, m := range in.params.indexes(k + "Tag") {
			tk := k + "Tag." + strconv.Itoa(m) + "."
			s.requestTags[in.params.str(tk+"Key")] = in.params.str(tk + "Value")
		}
	}
	if len(s.requestTags) > 0 {
		s.dependent = append(s.dependent, dependentAction{service: "ec2", action: "CreateTags", scope: scope{
			resources: s.resources, requestTags: s.requestTags,
			context: map[string][]string{"ec2:CreateAction": {"CreateLaunchTemplate"}}}})
	}
	return s
}

// templateScope: the template LaunchTemplateId or LaunchTemplateName names.
func templateScope(c *Cloud, in *call) scope {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.findTemplate(in.params.str("LaunchTemplateId"), in.params.str("LaunchTemplateName"))
	if err != nil {
		return scope{resources: []Resource{{ARN: c.ec2ARN("launch-template", "*")}}}
	}
	return scope{resources: []Resource{{ARN: c.ec2ARN("launch-template", t.ID), Tags: ec2TagMap(t.Tags)}}}
}

// ec2ResourcesScope: the instances and templates list (name.N) names, and
// the tags Tag.N the request puts (CreateTags) or removes (DeleteTags).
func ec2ResourcesScope(list string) scopeFunc {
	return func(c *Cloud, in *call) scope {
		s := scope{}
		tags, _ := parseEC2Tags(in.params, "Tag")
		if len(tags) > 0 {
			s.requestTags = ec2TagMap(tags)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, id := range in.params.list(list) {
			r, err := c.ec2Resource(id)
			typ := r.Type
			if err != nil {
				typ = "instance"
				if strings.HasPrefix(id, "lt-") {
					typ = "launch-template"
				}
			}
			s.resources = append(s.resources, Resource{ARN: c.ec2ARN(typ, id), Tags: ec2TagMap(r.Tags)})
		}
		return s
	}
}

func ec2TagMap(tags []tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// queueScope: the queue QueueName or QueueUrl names, and CreateQueue's tags.
func queueScope(c *Cloud, in *call) scope {
	var body struct {
		QueueName, QueueUrl string //nolint:revive // the wire names
		Tags                map[string]string
	}
	_ = json.Unmarshal(in.body, &body)
	name := body.QueueName
	if name == "" {
		name, _ = queueNameOf(body.QueueUrl)
	}
	return scope{resources: []Resource{{ARN: "arn:aws:sqs:" + c.region.Name + ":" + AccountID + ":" + name}},
		requestTags: body.Tags}
}

// ruleScope: the rule Name (or, for targets, Rule) names, and PutRule's tags.
func ruleScope(c *Cloud, in *call) scope {
	var body struct {
		Name, Rule string
		Tags       []struct{ Key, Value string }
	}
	_ = json.Unmarshal(in.body, &body)
	name := body.Name
	if name == "" {
		name = body.Rule
	}
	s := scope{resources: []Resource{{ARN: c.ruleARN(name)}}}
	if len(body.Tags) > 0 {
		s.requestTags = map[string]string{}
		for _, t := range body.Tags {
			s.requestTags[t.Key] = t.Value
		}
	}
	return s
}
