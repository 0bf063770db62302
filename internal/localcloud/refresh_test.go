package localcloud

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// startRefresh starts an instance refresh of a group and returns its id.
func (e *env) startRefresh(group string, prefs *astypes.RefreshPreferences, desired *astypes.DesiredConfiguration) string {
	e.t.Helper()
	out := must[*autoscaling.StartInstanceRefreshOutput](e.t)(e.as.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(group), Strategy: astypes.RefreshStrategyRolling, Preferences: prefs,
		DesiredConfiguration: desired}))
	return aws.ToString(out.InstanceRefreshId)
}

// refresh describes one instance refresh.
func (e *env) refresh(group, id string) astypes.InstanceRefresh {
	e.t.Helper()
	out := must[*autoscaling.DescribeInstanceRefreshesOutput](e.t)(e.as.DescribeInstanceRefreshes(ctx,
		&autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id}}))
	if len(out.InstanceRefreshes) != 1 {
		e.t.Fatalf("refresh %s: got %d", id, len(out.InstanceRefreshes))
	}
	return out.InstanceRefreshes[0]
}

// waitRefresh waits until the refresh has the status.
func (e *env) waitRefresh(group, id string, status astypes.InstanceRefreshStatus) astypes.InstanceRefresh {
	e.t.Helper()
	var r astypes.InstanceRefresh
	testenv.EventuallyTrue(e.t, waitTimeout, "refresh "+string(status), func() bool {
		r = e.refresh(group, id)
		return r.Status == status
	})
	return r
}

// templateVersions returns the launch template version of each of the
// group's instances.
func (e *env) templateVersions(group string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, i := range e.group(group).Instances {
		out[aws.ToString(i.InstanceId)] = aws.ToString(i.LaunchTemplate.LaunchTemplateId) + "/" + aws.ToString(i.LaunchTemplate.Version)
	}
	return out
}

// TestInstanceRefreshLaunchBeforeTerminate: with MaxHealthyPercentage 200
// the replacements launch first; the old instances leave once the new
// ones are warm, through the terminating hook; the in-service count never
// falls below the desired capacity; at the end the group launches from
// the desired configuration.
func TestInstanceRefreshLaunchBeforeTerminate(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	lt2 := e.createTemplate("next", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 3)
	old := e.waitSettled("g", 3)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 300, "ABANDON")
	id := e.startRefresh("g", &astypes.RefreshPreferences{MinHealthyPercentage: aws.Int32(100),
		MaxHealthyPercentage: aws.Int32(200), InstanceWarmup: aws.Int32(60)},
		&astypes.DesiredConfiguration{LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt2),
			Version: aws.String("$Latest")}})
	floor := func() bool {
		if n := len(e.withState("g", "InService")); n < 3 {
			t.Fatalf("%d instances in service during the refresh, want >= 3", n)
		}
		return true
	}
	testenv.EventuallyTrue(t, waitTimeout, "replacements in service", func() bool {
		return floor() && len(e.withState("g", "InService")) == 6
	})
	if w := e.withState("g", "Terminating:Wait"); len(w) != 0 {
		t.Fatalf("old instances left before the replacements were warm: %v", w)
	}
	r := e.refresh("g", id)
	if r.Status != astypes.InstanceRefreshStatusInProgress || aws.ToInt32(r.InstancesToUpdate) != 3 ||
		aws.ToInt32(r.PercentageComplete) != 0 {
		t.Fatalf("refresh while launching: %s %d %d", r.Status, aws.ToInt32(r.InstancesToUpdate), aws.ToInt32(r.PercentageComplete))
	}
	if d := r.DesiredConfiguration; d == nil || aws.ToString(d.LaunchTemplate.LaunchTemplateId) != lt2 ||
		aws.ToInt32(r.ProgressDetails.LivePoolProgress.InstancesToUpdate) != 3 || r.StartTime == nil || r.EndTime != nil {
		t.Fatalf("refresh echoed %+v", r)
	}
	if p := r.Preferences; aws.ToInt32(p.MinHealthyPercentage) != 100 || aws.ToInt32(p.MaxHealthyPercentage) != 200 ||
		aws.ToInt32(p.InstanceWarmup) != 60 || aws.ToBool(p.SkipMatching) {
		t.Fatalf("preferences echoed %+v", p)
	}

	e.clock.Step(60 * time.Second)
	var waiting []string
	testenv.EventuallyTrue(t, waitTimeout, "old instances in Terminating:Wait", func() bool {
		waiting = e.withState("g", "Terminating:Wait")
		return floor() && len(waiting) == 3
	})
	for _, o := range old {
		if id := aws.ToString(o.InstanceId); !strings.Contains(strings.Join(waiting, " "), id) {
			t.Fatalf("old instance %s is not leaving; leaving: %v", id, waiting)
		}
		if a := e.activityOf("g", "Terminating", aws.ToString(o.InstanceId)); !strings.Contains(aws.ToString(a.Cause), "instance refresh") {
			t.Fatalf("termination cause %q does not name the instance refresh", aws.ToString(a.Cause))
		}
	}
	e.clock.Step(60 * time.Second) // a refresh waits for the hook, however long
	if r := e.refresh("g", id); r.Status != astypes.InstanceRefreshStatusInProgress {
		t.Fatalf("refresh %s while its instances wait on the hook", r.Status)
	}
	for _, w := range waiting {
		if err := e.complete("g", "drain", w, "", "CONTINUE"); err != nil {
			t.Fatal(err)
		}
	}
	r = e.waitRefresh("g", id, astypes.InstanceRefreshStatusSuccessful)
	if aws.ToInt32(r.PercentageComplete) != 100 || aws.ToInt32(r.InstancesToUpdate) != 0 || r.EndTime == nil {
		t.Fatalf("refresh at the end: %d%% %d left, end %v", aws.ToInt32(r.PercentageComplete), aws.ToInt32(r.InstancesToUpdate), r.EndTime)
	}
	for _, w := range waiting {
		e.waitTerminated(w)
	}
	for _, inst := range e.waitSettled("g", 3) {
		a := e.activityOf("g", "Launching", aws.ToString(inst.InstanceId))
		if !strings.Contains(aws.ToString(a.Cause), "instance refresh ("+id+")") {
			t.Fatalf("launch cause %q does not name the instance refresh", aws.ToString(a.Cause))
		}
	}
	g := e.group("g")
	if aws.ToInt32(g.DesiredCapacity) != 3 || aws.ToString(g.LaunchTemplate.LaunchTemplateId) != lt2 {
		t.Fatalf("group after the refresh: desired %d, template %s", aws.ToInt32(g.DesiredCapacity), aws.ToString(g.LaunchTemplate.LaunchTemplateId))
	}
	for inst, v := range e.templateVersions("g") {
		if !strings.HasPrefix(v, lt2+"/") {
			t.Fatalf("instance %s launched from %s", inst, v)
		}
	}
}

// TestInstanceRefreshSkipMatching: terminate-first (MaxHealthyPercentage
// 100) replaces only the instances not on the desired template version.
func TestInstanceRefreshSkipMatching(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 2)
	old := e.waitSettled("g", 2)
	must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(lt), LaunchTemplateData: e.templateData("m5.xlarge")}))
	e.setDesired("g", 3)
	insts := e.waitSettled("g", 3)
	var current string
	for id, v := range e.templateVersions("g") {
		if v == lt+"/2" {
			current = id
		}
	}
	if current == "" {
		t.Fatalf("no instance on version 2: %v (%d)", e.templateVersions("g"), len(insts))
	}
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 300, "ABANDON")
	id := e.startRefresh("g", &astypes.RefreshPreferences{SkipMatching: aws.Bool(true)}, nil)
	leaving := e.waitStates("g", "Terminating:Wait", 1)
	r := e.refresh("g", id)
	if aws.ToInt32(r.InstancesToUpdate) != 2 || aws.ToInt32(r.Preferences.MinHealthyPercentage) != 90 ||
		aws.ToInt32(r.Preferences.MaxHealthyPercentage) != 100 {
		t.Fatalf("refresh at the start: %d to update, preferences %+v", aws.ToInt32(r.InstancesToUpdate), r.Preferences)
	}
	var done []string
	testenv.EventuallyTrue(t, waitTimeout, "refresh successful, one instance out at a time", func() bool {
		waiting := e.withState("g", "Terminating:Wait")
		if len(waiting) > 1 {
			t.Fatalf("terminate-first sent %v out at once", waiting)
		}
		for _, w := range waiting {
			if w == current {
				t.Fatalf("the matching instance %s is leaving", current)
			}
			if err := e.complete("g", "drain", w, "", "CONTINUE"); err != nil {
				t.Fatal(err)
			}
			done = append(done, w)
		}
		return e.refresh("g", id).Status == astypes.InstanceRefreshStatusSuccessful
	})
	if len(done) != 2 || done[0] != leaving[0] {
		t.Fatalf("replaced %v, first %v", done, leaving)
	}
	for _, o := range old {
		e.waitTerminated(aws.ToString(o.InstanceId))
	}
	e.waitSettled("g", 3)
	versions := e.templateVersions("g")
	if versions[current] != lt+"/2" {
		t.Fatalf("the matching instance %s was replaced: %v", current, versions)
	}
	for inst, v := range versions {
		if v != lt+"/2" {
			t.Fatalf("instance %s still on %s", inst, v)
		}
	}
}

// TestInstanceRefreshCancelAndConflicts: one active refresh per group; a
// cancelled refresh ends Cancelled and the group returns to its desired
// capacity; CancelInstanceRefresh with none active fails.
func TestInstanceRefreshCancelAndConflicts(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	e.waitSettled("g", 2)
	_, err := e.as.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("g")})
	wantCode(t, err, "ActiveInstanceRefreshNotFound")
	prefs := &astypes.RefreshPreferences{MinHealthyPercentage: aws.Int32(100), MaxHealthyPercentage: aws.Int32(150),
		InstanceWarmup: aws.Int32(3600)}
	id := e.startRefresh("g", prefs, nil)
	_, err = e.as.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("g")})
	wantCode(t, err, "InstanceRefreshInProgress")
	e.waitStates("g", "InService", 3)
	out := must[*autoscaling.CancelInstanceRefreshOutput](t)(e.as.CancelInstanceRefresh(ctx,
		&autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("g")}))
	if aws.ToString(out.InstanceRefreshId) != id {
		t.Fatalf("cancelled %s, want %s", aws.ToString(out.InstanceRefreshId), id)
	}
	r := e.waitRefresh("g", id, astypes.InstanceRefreshStatusCancelled)
	if r.EndTime == nil {
		t.Fatal("cancelled refresh has no end time")
	}
	e.waitSettled("g", 2)
	_, err = e.as.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("g")})
	wantCode(t, err, "ActiveInstanceRefreshNotFound")
	second := e.startRefresh("g", nil, nil)
	e.waitRefresh("g", second, astypes.InstanceRefreshStatusSuccessful)
	all := must[*autoscaling.DescribeInstanceRefreshesOutput](t)(e.as.DescribeInstanceRefreshes(ctx,
		&autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("g")})).InstanceRefreshes
	if len(all) != 2 || aws.ToString(all[0].InstanceRefreshId) != second {
		t.Fatalf("refreshes, newest first: %+v", all)
	}
}

func TestInstanceRefreshValidation(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 0)
	cases := []struct {
		name  string
		in    autoscaling.StartInstanceRefreshInput
		code  string
		wants string
	}{
		{"min above 100", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			MinHealthyPercentage: aws.Int32(101)}}, "ValidationError", "minHealthyPercentage"},
		{"max below 100", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			MinHealthyPercentage: aws.Int32(90), MaxHealthyPercentage: aws.Int32(99)}}, "ValidationError", "maxHealthyPercentage"},
		{"max above 200", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			MinHealthyPercentage: aws.Int32(100), MaxHealthyPercentage: aws.Int32(201)}}, "ValidationError", "maxHealthyPercentage"},
		{"spread above 100", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			MinHealthyPercentage: aws.Int32(50), MaxHealthyPercentage: aws.Int32(200)}}, "ValidationError", "difference"},
		{"max without min", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			MaxHealthyPercentage: aws.Int32(150)}}, "ValidationError", "MinHealthyPercentage must be specified"},
		{"negative warmup", autoscaling.StartInstanceRefreshInput{Preferences: &astypes.RefreshPreferences{
			InstanceWarmup: aws.Int32(-1)}}, "ValidationError", "instanceWarmup"},
		{"strategy", autoscaling.StartInstanceRefreshInput{Strategy: astypes.RefreshStrategyReplaceRootVolume},
			"ValidationError", "ReplaceRootVolume"},
		{"unknown template", autoscaling.StartInstanceRefreshInput{DesiredConfiguration: &astypes.DesiredConfiguration{
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("nope")}}},
			"ValidationError", "does not exist"},
		{"unknown group", autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("nope")},
			"ValidationError", "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.AutoScalingGroupName == nil {
				in.AutoScalingGroupName = aws.String("g")
			}
			_, err := e.as.StartInstanceRefresh(ctx, &in)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("error %v does not say %q", err, tc.wants)
			}
		})
	}
	if all := must[*autoscaling.DescribeInstanceRefreshesOutput](t)(e.as.DescribeInstanceRefreshes(ctx,
		&autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("g")})).InstanceRefreshes; len(all) != 0 {
		t.Fatalf("failed starts left refreshes: %+v", all)
	}
}

// TestInstanceRefreshSurvivesRestart: a refresh persisted with its group
// goes on after restarts, through the hook.
func TestInstanceRefreshSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	e.waitSettled("g", 2)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")
	id := e.startRefresh("g", &astypes.RefreshPreferences{MinHealthyPercentage: aws.Int32(100),
		MaxHealthyPercentage: aws.Int32(200), InstanceWarmup: aws.Int32(30)}, nil)
	e.waitStates("g", "InService", 4)
	e.restart()
	if r := e.refresh("g", id); r.Status != astypes.InstanceRefreshStatusInProgress {
		t.Fatalf("refresh after restart: %s", r.Status)
	}
	e.clock.Step(30 * time.Second)
	waiting := e.waitStates("g", "Terminating:Wait", 2)
	e.restart()
	for _, w := range waiting {
		if err := e.complete("g", "drain", w, "", "CONTINUE"); err != nil {
			t.Fatal(err)
		}
	}
	e.waitRefresh("g", id, astypes.InstanceRefreshStatusSuccessful)
	e.waitSettled("g", 2)
}

// TestInstanceRefreshFailsWithoutItsTemplate: a refresh whose launch
// template is deleted fails; the group keeps its own template (the
// replacement already launched from the deleted one keeps running).
func TestInstanceRefreshFailsWithoutItsTemplate(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	lt2 := e.createTemplate("next", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	e.waitSettled("g", 2)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 300, "CONTINUE")
	id := e.startRefresh("g", nil, &astypes.DesiredConfiguration{LaunchTemplate: &astypes.LaunchTemplateSpecification{
		LaunchTemplateId: aws.String(lt2)}})
	leaving := e.waitStates("g", "Terminating:Wait", 1)
	must[*ec2.DeleteLaunchTemplateOutput](t)(e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(lt2)}))
	if err := e.complete("g", "drain", leaving[0], "", "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	r := e.waitRefresh("g", id, astypes.InstanceRefreshStatusFailed)
	if !strings.Contains(aws.ToString(r.StatusReason), lt2) || r.EndTime == nil {
		t.Fatalf("failed refresh: reason %q, end %v", aws.ToString(r.StatusReason), r.EndTime)
	}
	e.waitSettled("g", 2)
	if g := e.group("g"); aws.ToString(g.LaunchTemplate.LaunchTemplateId) != lt {
		t.Fatalf("group template %s after a failed refresh", aws.ToString(g.LaunchTemplate.LaunchTemplateId))
	}
}

func TestRefreshBounds(t *testing.T) {
	cases := []struct {
		desired, minPct, maxPct, wantMin, wantMax int
	}{
		{3, 90, 100, 3, 3},
		{10, 90, 100, 9, 10},
		{3, 100, 200, 3, 6},
		{3, 100, 110, 3, 4}, // above 100 allows at least one more
		{10, 100, 110, 10, 11},
		{10, 50, 150, 5, 15},
		{0, 100, 200, 0, 0},
		{1, 0, 100, 0, 1},
	}
	for _, tc := range cases {
		gotMin, gotMax := refreshPreferences{MinHealthyPercentage: tc.minPct, MaxHealthyPercentage: tc.maxPct}.bounds(tc.desired)
		if gotMin != tc.wantMin || gotMax != tc.wantMax {
			t.Errorf("bounds(%d, min %d%%, max %d%%) = %d, %d; want %d, %d", tc.desired, tc.minPct, tc.maxPct,
				gotMin, gotMax, tc.wantMin, tc.wantMax)
		}
	}
}

// TestAWSCLIInstanceRefresh drives the refresh API with the AWS CLI.
func TestAWSCLIInstanceRefresh(t *testing.T) {
	e := newEnv(t)
	cli := newAWSCLI(t, e.srv.URL)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	e.waitSettled("g", 2)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 300, "CONTINUE")
	started := cli.json("autoscaling", "start-instance-refresh", "--auto-scaling-group-name", "g",
		"--preferences", `{"MinHealthyPercentage":100,"MaxHealthyPercentage":150,"InstanceWarmup":0,"CheckpointPercentages":[50,100]}`)
	id, _ := dig(t, started, "InstanceRefreshId").(string)
	if id == "" {
		t.Fatalf("start-instance-refresh: %v", started)
	}
	_, stderr, err := cli.run("autoscaling", "start-instance-refresh", "--auto-scaling-group-name", "g")
	if err == nil || !strings.Contains(stderr, "InstanceRefreshInProgress") {
		t.Fatalf("second start: %v %s", err, stderr)
	}
	e.waitStates("g", "Terminating:Wait", 1)
	out := cli.json("autoscaling", "describe-instance-refreshes", "--auto-scaling-group-name", "g", "--instance-refresh-ids", id)
	r := dig(t, out, "InstanceRefreshes", 0)
	if dig(t, r, "Status") != "InProgress" || dig(t, r, "InstancesToUpdate") != float64(2) ||
		dig(t, r, "Preferences", "MaxHealthyPercentage") != float64(150) ||
		dig(t, r, "Preferences", "CheckpointPercentages", 1) != float64(100) || dig(t, r, "StartTime") == nil {
		t.Fatalf("describe-instance-refreshes: %v", out)
	}
	cancelled := cli.json("autoscaling", "cancel-instance-refresh", "--auto-scaling-group-name", "g")
	if dig(t, cancelled, "InstanceRefreshId") != id {
		t.Fatalf("cancel-instance-refresh: %v", cancelled)
	}
	if r := e.refresh("g", id); r.Status != astypes.InstanceRefreshStatusCancelling {
		t.Fatalf("refresh %s while an instance is leaving, want Cancelling", r.Status)
	}
	// The group returns to its desired capacity through the hook too.
	testenv.EventuallyTrue(t, waitTimeout, "refresh cancelled", func() bool {
		for _, w := range e.withState("g", "Terminating:Wait") {
			if err := e.complete("g", "drain", w, "", "CONTINUE"); err != nil {
				t.Fatal(err)
			}
		}
		return e.refresh("g", id).Status == astypes.InstanceRefreshStatusCancelled
	})
	_, stderr, err = cli.run("autoscaling", "cancel-instance-refresh", "--auto-scaling-group-name", "g")
	if err == nil || !strings.Contains(stderr, "ActiveInstanceRefreshNotFound") {
		t.Fatalf("cancel with none active: %v %s", err, stderr)
	}
	testenv.EventuallyTrue(t, waitTimeout, "g back to 2 in service", func() bool {
		for _, w := range e.withState("g", "Terminating:Wait") {
			if err := e.complete("g", "drain", w, "", "CONTINUE"); err != nil {
				t.Fatal(err)
			}
		}
		return len(e.withState("g", "InService")) == 2 && len(e.states("g")) == 2
	})
}
