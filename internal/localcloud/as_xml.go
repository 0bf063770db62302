package localcloud

import (
	"slices"
	"time"
)

// Auto Scaling responses, rendered with the query protocol's names.

type groupXML struct {
	Name                             string                  `xml:"AutoScalingGroupName"`
	ARN                              string                  `xml:"AutoScalingGroupARN"`
	LaunchTemplate                   *templateSpec           `xml:"LaunchTemplate,omitempty"`
	MixedInstancesPolicy             *mixedXML               `xml:"MixedInstancesPolicy,omitempty"`
	MinSize                          int                     `xml:"MinSize"`
	MaxSize                          int                     `xml:"MaxSize"`
	DesiredCapacity                  int                     `xml:"DesiredCapacity"`
	DefaultCooldown                  int                     `xml:"DefaultCooldown"`
	AvailabilityZones                members[string]         `xml:"AvailabilityZones"`
	LoadBalancerNames                members[string]         `xml:"LoadBalancerNames"`
	TargetGroupARNs                  members[string]         `xml:"TargetGroupARNs"`
	HealthCheckType                  string                  `xml:"HealthCheckType"`
	HealthCheckGracePeriod           int                     `xml:"HealthCheckGracePeriod"`
	Instances                        members[groupInstXML]   `xml:"Instances"`
	CreatedTime                      xmlTime                 `xml:"CreatedTime"`
	SuspendedProcesses               members[string]         `xml:"SuspendedProcesses"`
	VPCZoneIdentifier                string                  `xml:"VPCZoneIdentifier,omitempty"`
	EnabledMetrics                   members[string]         `xml:"EnabledMetrics"`
	Tags                             members[tagDescription] `xml:"Tags"`
	TerminationPolicies              members[string]         `xml:"TerminationPolicies"`
	NewInstancesProtectedFromScaleIn bool                    `xml:"NewInstancesProtectedFromScaleIn"`
	ServiceLinkedRoleARN             string                  `xml:"ServiceLinkedRoleARN"`
	CapacityRebalance                bool                    `xml:"CapacityRebalance"`
	TrafficSources                   members[string]         `xml:"TrafficSources"`
}

type mixedXML struct {
	LaunchTemplate struct {
		Spec      templateSpec      `xml:"LaunchTemplateSpecification"`
		Overrides members[override] `xml:"Overrides"`
	} `xml:"LaunchTemplate"`
	Distribution distribution `xml:"InstancesDistribution"`
}

type groupInstXML struct {
	InstanceID           string        `xml:"InstanceId"`
	InstanceType         string        `xml:"InstanceType"`
	AvailabilityZone     string        `xml:"AvailabilityZone"`
	LifecycleState       string        `xml:"LifecycleState"`
	HealthStatus         string        `xml:"HealthStatus"`
	LaunchTemplate       *templateSpec `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool          `xml:"ProtectedFromScaleIn"`
}

type asInstanceXML struct {
	InstanceID           string        `xml:"InstanceId"`
	InstanceType         string        `xml:"InstanceType"`
	GroupName            string        `xml:"AutoScalingGroupName"`
	AvailabilityZone     string        `xml:"AvailabilityZone"`
	LifecycleState       string        `xml:"LifecycleState"`
	HealthStatus         string        `xml:"HealthStatus"`
	LaunchTemplate       *templateSpec `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool          `xml:"ProtectedFromScaleIn"`
}

type tagDescription struct {
	ResourceID        string `xml:"ResourceId"`
	ResourceType      string `xml:"ResourceType"`
	Key               string `xml:"Key"`
	Value             string `xml:"Value"`
	PropagateAtLaunch bool   `xml:"PropagateAtLaunch"`
}

type activityXML struct {
	ID            string   `xml:"ActivityId"`
	GroupName     string   `xml:"AutoScalingGroupName"`
	Description   string   `xml:"Description"`
	Cause         string   `xml:"Cause"`
	StartTime     xmlTime  `xml:"StartTime"`
	EndTime       *xmlTime `xml:"EndTime,omitempty"`
	StatusCode    string   `xml:"StatusCode"`
	StatusMessage string   `xml:"StatusMessage,omitempty"`
	Progress      int      `xml:"Progress"`
	Details       string   `xml:"Details,omitempty"`
	GroupARN      string   `xml:"AutoScalingGroupARN,omitempty"`
}

type describeGroupsResult struct {
	Groups    members[groupXML] `xml:"AutoScalingGroups"`
	NextToken string            `xml:"NextToken,omitempty"`
}

type describeASInstancesResult struct {
	Instances members[asInstanceXML] `xml:"AutoScalingInstances"`
	NextToken string                 `xml:"NextToken,omitempty"`
}

type describeActivitiesResult struct {
	Activities members[activityXML] `xml:"Activities"`
	NextToken  string               `xml:"NextToken,omitempty"`
}

type activityResult struct {
	Activity activityXML `xml:"Activity"`
}

type describeTagsResult struct {
	Tags      members[tagDescription] `xml:"Tags"`
	NextToken string                  `xml:"NextToken,omitempty"`
}

func (a *activity) xml() activityXML {
	x := activityXML{ID: a.ID, GroupName: a.Group, Description: a.Description, Cause: a.Cause,
		StartTime: xmlTime(a.Start), EndTime: tsp(a.End), StatusCode: a.StatusCode, StatusMessage: a.StatusMessage,
		Progress: a.Progress, Details: a.Details, GroupARN: a.GroupARN}
	return x
}

func (g *group) tagDescriptions() members[tagDescription] {
	out := members[tagDescription]{}
	for _, t := range g.Tags {
		out = append(out, tagDescription{ResourceID: g.Name, ResourceType: "auto-scaling-group",
			Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch})
	}
	return out
}

// groupXML renders g with its instances (Pending, InService, Terminating).
// c.mu must be held.
func (c *Cloud) groupXML(g *group) groupXML {
	x := groupXML{Name: g.Name, ARN: g.ARN, LaunchTemplate: c.describedSpec(g.Template), MinSize: g.Min, MaxSize: g.Max,
		DesiredCapacity: g.Desired, DefaultCooldown: g.DefaultCooldown, AvailabilityZones: members[string](g.Zones),
		LoadBalancerNames: members[string]{}, TargetGroupARNs: members[string]{}, HealthCheckType: g.HealthCheckType,
		HealthCheckGracePeriod: g.HealthCheckGracePeriod, Instances: members[groupInstXML]{},
		CreatedTime: xmlTime(g.Created), SuspendedProcesses: members[string]{}, EnabledMetrics: members[string]{},
		Tags: g.tagDescriptions(), TerminationPolicies: members[string](g.TerminationPolicies),
		NewInstancesProtectedFromScaleIn: g.NewInstancesProtectedFromScaleIn, CapacityRebalance: g.CapacityRebalance,
		ServiceLinkedRoleARN: "arn:aws:iam::" + AccountID +
			":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
		TrafficSources: members[string]{}}
	if g.Mixed != nil {
		m := &mixedXML{Distribution: g.Mixed.Distribution}
		m.LaunchTemplate.Spec = *c.describedSpec(&g.Mixed.Template)
		m.LaunchTemplate.Overrides = members[override](slices.Clone(g.Mixed.Overrides))
		for i, o := range m.LaunchTemplate.Overrides {
			m.LaunchTemplate.Overrides[i].Template = c.describedSpec(o.Template)
		}
		x.MixedInstancesPolicy = m
	}
	if len(g.Subnets) > 0 {
		x.VPCZoneIdentifier = joinComma(g.Subnets)
	}
	for _, inst := range c.groupInstances(g.Name) {
		x.Instances = append(x.Instances, groupInstXML{InstanceID: inst.ID, InstanceType: inst.Type,
			AvailabilityZone: inst.Zone, LifecycleState: string(inst.State), HealthStatus: "Healthy",
			LaunchTemplate: ptr(inst.Template), ProtectedFromScaleIn: inst.ProtectedFromScaleIn})
	}
	return x
}

// describedSpec is spec as Auto Scaling describes it: with the template's
// id and name both, whichever of them the request gave (a copy; nil for
// nil). c.mu must be held.
func (c *Cloud) describedSpec(spec *templateSpec) *templateSpec {
	if spec == nil {
		return nil
	}
	out := *spec
	if t, err := c.findTemplate(spec.ID, spec.Name); err == nil {
		out.ID, out.Name = t.ID, t.Name
	}
	return &out
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// causeTime formats a time as scaling activity causes do.
func causeTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
