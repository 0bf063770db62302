package localcloud

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestCreateGroupErrors(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("taken", lt, 0, 1, 0)
	spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}
	zones := []string{"us-east-1a"}
	in := func(mutate func(*autoscaling.CreateAutoScalingGroupInput)) *autoscaling.CreateAutoScalingGroupInput {
		i := &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("new"), LaunchTemplate: spec,
			MinSize: aws.Int32(0), MaxSize: aws.Int32(3), AvailabilityZones: zones}
		mutate(i)
		return i
	}
	tests := []struct {
		name   string
		mutate func(*autoscaling.CreateAutoScalingGroupInput)
		want   string
	}{
		{"min above max", func(i *autoscaling.CreateAutoScalingGroupInput) { i.MinSize, i.MaxSize = aws.Int32(3), aws.Int32(1) }, codeValidationError},
		{"desired above max", func(i *autoscaling.CreateAutoScalingGroupInput) { i.DesiredCapacity = aws.Int32(4) }, codeValidationError},
		{"desired below min", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.MinSize, i.DesiredCapacity = aws.Int32(2), aws.Int32(1)
		}, codeValidationError},
		{"unknown template id", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.LaunchTemplate = &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-0123456789abcdef0")}
		}, codeValidationError},
		{"unknown template name", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.LaunchTemplate = &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("nope")}
		}, codeValidationError},
		{"unknown template version", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.LaunchTemplate = &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("9")}
		}, codeValidationError},
		{"duplicate name", func(i *autoscaling.CreateAutoScalingGroupInput) { i.AutoScalingGroupName = aws.String("taken") }, codeAlreadyExists},
		{"no zones", func(i *autoscaling.CreateAutoScalingGroupInput) { i.AvailabilityZones = nil }, codeValidationError},
		{"unknown zone", func(i *autoscaling.CreateAutoScalingGroupInput) { i.AvailabilityZones = []string{"us-east-1z"} }, codeValidationError},
		{"unknown subnet", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.AvailabilityZones, i.VPCZoneIdentifier = nil, aws.String("subnet-00000000000000000")
		}, codeValidationError},
		{"no template", func(i *autoscaling.CreateAutoScalingGroupInput) { i.LaunchTemplate = nil }, codeValidationError},
		{"template and mixed policy", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec}}
		}, codeValidationError},
		{"unknown override type", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.LaunchTemplate = nil
			i.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec,
				Overrides: []astypes.LaunchTemplateOverrides{{InstanceType: aws.String("m5.huge")}}}}
		}, codeValidationError},
		{"unknown spot strategy", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.LaunchTemplate = nil
			i.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec},
				InstancesDistribution: &astypes.InstancesDistribution{SpotAllocationStrategy: aws.String("cheapest-please")}}
		}, codeValidationError},
		{"reserved tag key", func(i *autoscaling.CreateAutoScalingGroupInput) {
			i.Tags = []astypes.Tag{{Key: aws.String("aws:mine"), Value: aws.String("x")}}
		}, codeValidationError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.as.CreateAutoScalingGroup(ctx, in(tt.mutate))
			wantCode(t, err, tt.want)
		})
	}
}

func TestTemplateWithoutInstanceTypeNeedsOverrides(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("no-type", "", ImageLocalNode)
	_, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
		MinSize:        aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}})
	wantCode(t, err, codeValidationError)
}

func TestDesiredCapacityAndBounds(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 1, 3, 1)
	set := func(n int32) error {
		_, err := e.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(n)})
		return err
	}
	wantCode(t, set(4), codeValidationError)
	wantCode(t, set(0), codeValidationError)
	_, err := e.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("nope"), DesiredCapacity: aws.Int32(1)})
	wantCode(t, err, codeValidationError)
	if err := set(3); err != nil {
		t.Fatal(err)
	}
	e.waitSettled("g", 3)

	update := func(minSize, maxSize, desired *int32) error {
		_, err := e.as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"),
			MinSize: minSize, MaxSize: maxSize, DesiredCapacity: desired})
		return err
	}
	// A lower max lowers the desired capacity; a higher min raises it.
	if err := update(nil, aws.Int32(2), nil); err != nil {
		t.Fatal(err)
	}
	if g := e.group("g"); aws.ToInt32(g.DesiredCapacity) != 2 || aws.ToInt32(g.MaxSize) != 2 {
		t.Fatalf("after max 2: desired %d max %d", aws.ToInt32(g.DesiredCapacity), aws.ToInt32(g.MaxSize))
	}
	e.waitSettled("g", 2)
	if err := update(aws.Int32(4), aws.Int32(5), nil); err != nil {
		t.Fatal(err)
	}
	if g := e.group("g"); aws.ToInt32(g.DesiredCapacity) != 4 {
		t.Fatalf("after min 4: desired %d", aws.ToInt32(g.DesiredCapacity))
	}
	e.waitSettled("g", 4)
	wantCode(t, update(aws.Int32(5), aws.Int32(2), nil), codeValidationError)
	wantCode(t, update(nil, nil, aws.Int32(9)), codeValidationError)
	_, err = e.as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope")})
	wantCode(t, err, codeValidationError)
}

func TestDeleteGroup(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 2)
	insts := e.waitSettled("g", 2)
	_, err := e.as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("g")})
	wantCode(t, err, codeResourceInUse)
	_, err = e.as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope")})
	wantCode(t, err, codeValidationError)
	must[*autoscaling.DeleteAutoScalingGroupOutput](t)(e.as.DeleteAutoScalingGroup(ctx,
		&autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), ForceDelete: aws.Bool(true)}))
	out := must[*autoscaling.DescribeAutoScalingGroupsOutput](t)(e.as.DescribeAutoScalingGroups(ctx,
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"g"}}))
	if len(out.AutoScalingGroups) != 0 {
		t.Fatalf("group still described: %+v", out.AutoScalingGroups)
	}
	for _, i := range insts {
		id := aws.ToString(i.InstanceId)
		testenv.EventuallyTrue(t, waitTimeout, id+" terminated", func() bool { return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated })
		if e.rt.isRunning(id) {
			t.Errorf("runtime of %s still running", id)
		}
	}
	acts := must[*autoscaling.DescribeScalingActivitiesOutput](t)(e.as.DescribeScalingActivities(ctx,
		&autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("g"), IncludeDeletedGroups: aws.Bool(true)}))
	if len(acts.Activities) != 4 { // 2 launches, 2 terminations
		t.Fatalf("activities of the deleted group: %d", len(acts.Activities))
	}
	// An empty group deletes without force.
	e.createGroup("empty", lt, 0, 3, 0)
	must[*autoscaling.DeleteAutoScalingGroupOutput](t)(e.as.DeleteAutoScalingGroup(ctx,
		&autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("empty")}))
}

func tagOf(k, v string, propagate bool) astypes.Tag {
	return astypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(propagate)}
}

func groupNames(gs []astypes.AutoScalingGroup) []string {
	var out []string
	for _, g := range gs {
		out = append(out, aws.ToString(g.AutoScalingGroupName))
	}
	return out
}

func TestDescribeGroupsFiltersAndPagination(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	for i := range 5 {
		tags := []astypes.Tag{tagOf("kubernetes.io/cluster/local", "owned", false), tagOf("kelp.dev/pool", fmt.Sprintf("pool-%d", i), true)}
		if i%2 == 0 {
			tags = append(tags, tagOf("k8s.io/cluster-autoscaler/enabled", "true", false))
		}
		e.createGroup(fmt.Sprintf("group-%d", i), lt, 0, 1, 0, tags...)
	}
	filter := func(fs ...astypes.Filter) []string {
		out := must[*autoscaling.DescribeAutoScalingGroupsOutput](t)(e.as.DescribeAutoScalingGroups(ctx,
			&autoscaling.DescribeAutoScalingGroupsInput{Filters: fs}))
		return groupNames(out.AutoScalingGroups)
	}
	f := func(name string, values ...string) astypes.Filter {
		return astypes.Filter{Name: aws.String(name), Values: values}
	}
	tests := []struct {
		name    string
		filters []astypes.Filter
		want    []string
	}{
		{"tag-key", []astypes.Filter{f("tag-key", "k8s.io/cluster-autoscaler/enabled")}, []string{"group-0", "group-2", "group-4"}},
		{"tag-value", []astypes.Filter{f("tag-value", "pool-1", "pool-3")}, []string{"group-1", "group-3"}},
		{"tag:key", []astypes.Filter{f("tag:kelp.dev/pool", "pool-4")}, []string{"group-4"}},
		{"and across filters", []astypes.Filter{f("tag:kubernetes.io/cluster/local", "owned"), f("tag-key", "k8s.io/cluster-autoscaler/enabled"),
			f("tag-value", "pool-2")}, []string{"group-2"}},
		{"no match", []astypes.Filter{f("tag:kelp.dev/pool", "pool-9")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := filter(tt.filters...); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	_, err := e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: []astypes.Filter{f("color", "red")}})
	wantCode(t, err, codeValidationError)

	var all []string
	pages := 0
	pager := autoscaling.NewDescribeAutoScalingGroupsPaginator(e.as, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(2)})
	for pager.HasMorePages() {
		out := must[*autoscaling.DescribeAutoScalingGroupsOutput](t)(pager.NextPage(ctx))
		all = append(all, groupNames(out.AutoScalingGroups)...)
		pages++
	}
	if pages != 3 || !slices.Equal(all, []string{"group-0", "group-1", "group-2", "group-3", "group-4"}) {
		t.Fatalf("paginated: %d pages, %v", pages, all)
	}
	if got := filter(); len(got) != 5 {
		t.Fatalf("unfiltered: %v", got)
	}
	byName := must[*autoscaling.DescribeAutoScalingGroupsOutput](t)(e.as.DescribeAutoScalingGroups(ctx,
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"group-3", "missing"}}))
	if got := groupNames(byName.AutoScalingGroups); !slices.Equal(got, []string{"group-3"}) {
		t.Fatalf("by name: %v", got)
	}
	_, err = e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{NextToken: aws.String("!!")})
	wantCode(t, err, codeInvalidNextToken)
	_, err = e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(500)})
	wantCode(t, err, codeValidationError)
}

func TestGroupTagsAndPropagation(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 0, tagOf("kelp.dev/pool", "general", true), tagOf("not-copied", "x", false))
	groupTag := func(k, v string, propagate bool) astypes.Tag {
		tg := tagOf(k, v, propagate)
		tg.ResourceId, tg.ResourceType = aws.String("g"), aws.String("auto-scaling-group")
		return tg
	}
	must[*autoscaling.CreateOrUpdateTagsOutput](t)(e.as.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{
		Tags: []astypes.Tag{groupTag("team", "infra", true), groupTag("kelp.dev/pool", "general", true)}}))
	must[*autoscaling.DeleteTagsOutput](t)(e.as.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []astypes.Tag{groupTag("not-copied", "", false)}}))
	desc := must[*autoscaling.DescribeTagsOutput](t)(e.as.DescribeTags(ctx, &autoscaling.DescribeTagsInput{
		Filters: []astypes.Filter{{Name: aws.String("auto-scaling-group"), Values: []string{"g"}}}}))
	var keys []string
	for _, tg := range desc.Tags {
		keys = append(keys, aws.ToString(tg.Key))
		if aws.ToString(tg.ResourceType) != "auto-scaling-group" || aws.ToString(tg.ResourceId) != "g" {
			t.Errorf("tag %+v", tg)
		}
	}
	if !slices.Equal(keys, []string{"kelp.dev/pool", "team"}) {
		t.Fatalf("DescribeTags keys %v", keys)
	}
	filtered := must[*autoscaling.DescribeTagsOutput](t)(e.as.DescribeTags(ctx, &autoscaling.DescribeTagsInput{
		Filters: []astypes.Filter{{Name: aws.String("key"), Values: []string{"team"}}, {Name: aws.String("propagate-at-launch"), Values: []string{"true"}}}}))
	if len(filtered.Tags) != 1 || aws.ToString(filtered.Tags[0].Value) != "infra" {
		t.Fatalf("filtered DescribeTags %+v", filtered.Tags)
	}
	_, err := e.as.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{ResourceId: aws.String("nope"),
		ResourceType: aws.String("auto-scaling-group"), Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, codeValidationError)

	_, err = e.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(e.waitSettled("g", 1)[0].InstanceId)
	tags := map[string]string{}
	for _, tg := range e.instance(id).Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	want := map[string]string{"kelp.dev/pool": "general", "team": "infra", "aws:autoscaling:groupName": "g",
		"aws:ec2launchtemplate:id": lt, "aws:ec2launchtemplate:version": "1"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("instance tag %s = %q, want %q (all %v)", k, tags[k], v, tags)
		}
	}
	if _, ok := tags["not-copied"]; ok {
		t.Errorf("a tag without PropagateAtLaunch reached the instance: %v", tags)
	}
	info, _, _ := e.rt.bootInfo(id)
	if info.Tags["team"] != "infra" || info.GroupName != "g" {
		t.Errorf("runtime saw tags %v group %q", info.Tags, info.GroupName)
	}
	// EC2 tags on the instance.
	must[*ec2.CreateTagsOutput](t)(e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
		Tags: []ec2types.Tag{{Key: aws.String("node"), Value: aws.String("ready")}}}))
	ec2Tags := must[*ec2.DescribeTagsOutput](t)(e.ec2.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("resource-id"), Values: []string{id}}, {Name: aws.String("key"), Values: []string{"node", "team"}}}}))
	if len(ec2Tags.Tags) != 2 || ec2Tags.Tags[0].ResourceType != ec2types.ResourceTypeInstance {
		t.Fatalf("ec2 DescribeTags %+v", ec2Tags.Tags)
	}
	must[*ec2.DeleteTagsOutput](t)(e.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id},
		Tags: []ec2types.Tag{{Key: aws.String("node")}}}))
	for _, tg := range e.instance(id).Tags {
		if aws.ToString(tg.Key) == "node" {
			t.Fatalf("ec2 DeleteTags left %+v", tg)
		}
	}
	_, err = e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"i-0123456789abcdef0"},
		Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, codeInvalidInstanceIDNotFound)
}

// TestDescribedTemplateHasIDAndName: a group created with the template's
// name (or id) is described with both, as Auto Scaling does, in the
// group, its mixed instances policy and its overrides.
func TestDescribedTemplateHasIDAndName(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("by-name", "m5.large", ImageLocalNode)
	_, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("plain"),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("by-name")},
		MinSize:        aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("mixed"),
		MixedInstancesPolicy: &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{
			LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
			Overrides: []astypes.LaunchTemplateOverrides{{InstanceType: aws.String("m5.large"),
				LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("by-name")}}}}},
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, s *astypes.LaunchTemplateSpecification) {
		t.Helper()
		if s == nil || aws.ToString(s.LaunchTemplateId) != lt || aws.ToString(s.LaunchTemplateName) != "by-name" {
			t.Errorf("%s: described as %+v, want id %s and name by-name", where, s, lt)
		}
	}
	check("plain group", e.group("plain").LaunchTemplate)
	m := e.group("mixed").MixedInstancesPolicy
	if m == nil || m.LaunchTemplate == nil || len(m.LaunchTemplate.Overrides) != 1 {
		t.Fatalf("mixed group described as %+v", m)
	}
	check("mixed policy", m.LaunchTemplate.LaunchTemplateSpecification)
	check("override", m.LaunchTemplate.Overrides[0].LaunchTemplateSpecification)
}
