package localcloud

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// putHook puts a lifecycle hook on a group.
func (e *env) putHook(group, name, transition string, heartbeat int32, result string) {
	e.t.Helper()
	must[*autoscaling.PutLifecycleHookOutput](e.t)(e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String(group), LifecycleHookName: aws.String(name),
		LifecycleTransition: aws.String(transition), HeartbeatTimeout: aws.Int32(heartbeat), DefaultResult: aws.String(result)}))
}

// states returns the lifecycle state of each of the group's instances as
// DescribeAutoScalingGroups and DescribeAutoScalingInstances both show it
// (the two calls are retried until they agree).
func (e *env) states(group string) map[string]string {
	e.t.Helper()
	var out map[string]string
	testenv.EventuallyTrue(e.t, waitTimeout, "the two describes agree on "+group, func() bool {
		out = map[string]string{}
		for _, i := range e.group(group).Instances {
			out[aws.ToString(i.InstanceId)] = string(i.LifecycleState)
		}
		all := must[*autoscaling.DescribeAutoScalingInstancesOutput](e.t)(e.as.DescribeAutoScalingInstances(ctx,
			&autoscaling.DescribeAutoScalingInstancesInput{}))
		n := 0
		for _, i := range all.AutoScalingInstances {
			if aws.ToString(i.AutoScalingGroupName) != group {
				continue
			}
			n++
			if out[aws.ToString(i.InstanceId)] != aws.ToString(i.LifecycleState) {
				return false
			}
		}
		return n == len(out)
	})
	return out
}

// withState returns the group's instances in state, sorted.
func (e *env) withState(group, state string) []string {
	e.t.Helper()
	var out []string
	for id, s := range e.states(group) {
		if s == state {
			out = append(out, id)
		}
	}
	return sortedStrings(out)
}

func sortedStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// waitStates waits until the group's instances in state are exactly n.
func (e *env) waitStates(group, state string, n int) []string {
	e.t.Helper()
	var got []string
	testenv.EventuallyTrue(e.t, waitTimeout, fmt.Sprintf("%d instances of %s in %s", n, group, state), func() bool {
		got = e.withState(group, state)
		return len(got) == n
	})
	return got
}

// waitTerminated waits until the EC2 instance is terminated.
func (e *env) waitTerminated(id string) {
	e.t.Helper()
	testenv.EventuallyTrue(e.t, waitTimeout, id+" terminated", func() bool {
		return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated
	})
}

// token returns the lifecycle action token an instance waits on for a hook
// (delivered by notifications on AWS).
func (e *env) token(id, hook string) string {
	e.t.Helper()
	e.cloud.mu.Lock()
	defer e.cloud.mu.Unlock()
	for _, a := range e.cloud.st.instances[id].Actions {
		if a.Hook == hook {
			return a.Token
		}
	}
	e.t.Fatalf("instance %s waits on no action of hook %s", id, hook)
	return ""
}

// activityOf returns the latest activity whose description names the
// instance and starts with what ("Launching", "Terminating").
func (e *env) activityOf(group, what, id string) astypes.Activity {
	e.t.Helper()
	for _, a := range e.activities(group) {
		if d := aws.ToString(a.Description); strings.HasPrefix(d, what) && strings.Contains(d, id) {
			return a
		}
	}
	e.t.Fatalf("no %s activity for %s", what, id)
	return astypes.Activity{}
}

func (e *env) complete(group, hook, id, token, result string) error {
	in := &autoscaling.CompleteLifecycleActionInput{AutoScalingGroupName: aws.String(group),
		LifecycleHookName: aws.String(hook), LifecycleActionResult: aws.String(result)}
	if id != "" {
		in.InstanceId = aws.String(id)
	}
	if token != "" {
		in.LifecycleActionToken = aws.String(token)
	}
	_, err := e.as.CompleteLifecycleAction(ctx, in)
	return err
}

func (e *env) heartbeat(group, hook, id string) {
	e.t.Helper()
	must[*autoscaling.RecordLifecycleActionHeartbeatOutput](e.t)(e.as.RecordLifecycleActionHeartbeat(ctx,
		&autoscaling.RecordLifecycleActionHeartbeatInput{AutoScalingGroupName: aws.String(group),
			LifecycleHookName: aws.String(hook), InstanceId: aws.String(id)}))
}

func TestLifecycleHookAPI(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 0)
	must[*autoscaling.PutLifecycleHookOutput](t)(e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("drain"),
		LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"), NotificationMetadata: aws.String(`{"pool":"g"}`),
		NotificationTargetARN: aws.String("arn:aws:sqs:us-east-1:123456789012:q"), RoleARN: aws.String("arn:aws:iam::123456789012:role/r")}))
	e.putHook("g", "warm", "autoscaling:EC2_INSTANCE_LAUNCHING", 30, "CONTINUE")

	hooks := must[*autoscaling.DescribeLifecycleHooksOutput](t)(e.as.DescribeLifecycleHooks(ctx,
		&autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("g")})).LifecycleHooks
	if len(hooks) != 2 {
		t.Fatalf("hooks %+v", hooks)
	}
	d := hooks[0]
	if aws.ToString(d.LifecycleHookName) != "drain" || aws.ToString(d.AutoScalingGroupName) != "g" ||
		aws.ToInt32(d.HeartbeatTimeout) != 3600 || aws.ToInt32(d.GlobalTimeout) != 172800 || aws.ToString(d.DefaultResult) != "ABANDON" ||
		aws.ToString(d.NotificationMetadata) != `{"pool":"g"}` || aws.ToString(d.NotificationTargetARN) != "arn:aws:sqs:us-east-1:123456789012:q" ||
		aws.ToString(d.RoleARN) != "arn:aws:iam::123456789012:role/r" || aws.ToString(d.LifecycleTransition) != "autoscaling:EC2_INSTANCE_TERMINATING" {
		t.Errorf("drain hook %+v", d)
	}
	if w := hooks[1]; aws.ToInt32(w.HeartbeatTimeout) != 30 || aws.ToInt32(w.GlobalTimeout) != 3000 || aws.ToString(w.DefaultResult) != "CONTINUE" {
		t.Errorf("warm hook %+v", w)
	}

	// An update changes what it sends and keeps the rest.
	must[*autoscaling.PutLifecycleHookOutput](t)(e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("drain"), HeartbeatTimeout: aws.Int32(120)}))
	hooks = must[*autoscaling.DescribeLifecycleHooksOutput](t)(e.as.DescribeLifecycleHooks(ctx,
		&autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("g"), LifecycleHookNames: []string{"drain", "nope"}})).LifecycleHooks
	if len(hooks) != 1 || aws.ToInt32(hooks[0].HeartbeatTimeout) != 120 || aws.ToInt32(hooks[0].GlobalTimeout) != 12000 ||
		aws.ToString(hooks[0].NotificationMetadata) != `{"pool":"g"}` || aws.ToString(hooks[0].LifecycleTransition) != "autoscaling:EC2_INSTANCE_TERMINATING" {
		t.Fatalf("after update: %+v", hooks)
	}

	bad := []struct {
		name string
		in   autoscaling.PutLifecycleHookInput
		code string
	}{
		{"no transition on create", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("new")}, "ValidationError"},
		{"unknown transition", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("new"),
			LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_REBOOTING")}, "ValidationError"},
		{"heartbeat below 30", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("drain"), HeartbeatTimeout: aws.Int32(29)}, "ValidationError"},
		{"heartbeat above 7200", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("drain"), HeartbeatTimeout: aws.Int32(7201)}, "ValidationError"},
		{"bad default result", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("drain"), DefaultResult: aws.String("RETRY")}, "ValidationError"},
		{"bad name", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("a hook"),
			LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING")}, "ValidationError"},
		{"metadata too long", autoscaling.PutLifecycleHookInput{LifecycleHookName: aws.String("drain"),
			NotificationMetadata: aws.String(strings.Repeat("x", 4001))}, "ValidationError"},
	}
	for _, tt := range bad {
		in := tt.in
		in.AutoScalingGroupName = aws.String("g")
		_, err := e.as.PutLifecycleHook(ctx, &in)
		if apiCode(t, err) != tt.code {
			t.Errorf("%s: error %v, want %s", tt.name, err, tt.code)
		}
	}
	_, err := e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: aws.String("nope"),
		LifecycleHookName: aws.String("h"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING")})
	wantCode(t, err, "ValidationError")
	if !strings.Contains(err.Error(), "'nope' not found") {
		t.Errorf("unknown group: %v", err)
	}
	_, err = e.as.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("nope")})
	wantCode(t, err, "ValidationError")

	for i := 2; i < 50; i++ {
		e.putHook("g", fmt.Sprintf("h%02d", i), "autoscaling:EC2_INSTANCE_TERMINATING", 30, "CONTINUE")
	}
	_, err = e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: aws.String("g"),
		LifecycleHookName: aws.String("one-too-many"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING")})
	wantCode(t, err, "LimitExceeded")
	e.putHook("g", "h02", "autoscaling:EC2_INSTANCE_TERMINATING", 60, "CONTINUE") // an update is no new hook

	// Nothing waits: completing or heartbeating an action fails.
	wantCode(t, e.complete("g", "drain", "i-0123456789abcdef0", "", "CONTINUE"), "ValidationError")
	wantCode(t, e.complete("g", "drain", "", "6f4b8a1e-0a6b-4c2e-9d3f-0123456789ab", "CONTINUE"), "ValidationError")
	wantCode(t, e.complete("g", "drain", "i-0123456789abcdef0", "", "MAYBE"), "ValidationError")
	wantCode(t, e.complete("g", "drain", "", "", "CONTINUE"), "ValidationError")
	_, err = e.as.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{AutoScalingGroupName: aws.String("g"),
		LifecycleHookName: aws.String("drain"), InstanceId: aws.String("i-0123456789abcdef0")})
	wantCode(t, err, "ValidationError")

	must[*autoscaling.DeleteLifecycleHookOutput](t)(e.as.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("drain")}))
	_, err = e.as.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{AutoScalingGroupName: aws.String("g"),
		LifecycleHookName: aws.String("drain")})
	wantCode(t, err, "ValidationError")
	hooks = must[*autoscaling.DescribeLifecycleHooksOutput](t)(e.as.DescribeLifecycleHooks(ctx,
		&autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("g")})).LifecycleHooks
	if len(hooks) != 49 || aws.ToString(hooks[0].LifecycleHookName) != "warm" {
		t.Fatalf("after delete: %d hooks, first %s", len(hooks), aws.ToString(hooks[0].LifecycleHookName))
	}
}

func TestCreateGroupWithHookSpecifications(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	must[*autoscaling.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: templateSpecOf(lt), MinSize: aws.Int32(0), MaxSize: aws.Int32(2),
		AvailabilityZones: []string{"us-east-1a"}, LifecycleHookSpecificationList: []astypes.LifecycleHookSpecification{{
			LifecycleHookName: aws.String("drain"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"),
			HeartbeatTimeout: aws.Int32(300), DefaultResult: aws.String("CONTINUE")}}}))
	hooks := must[*autoscaling.DescribeLifecycleHooksOutput](t)(e.as.DescribeLifecycleHooks(ctx,
		&autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("g")})).LifecycleHooks
	if len(hooks) != 1 || aws.ToInt32(hooks[0].HeartbeatTimeout) != 300 || aws.ToString(hooks[0].DefaultResult) != "CONTINUE" {
		t.Fatalf("hooks %+v", hooks)
	}
	_, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g2"), LaunchTemplate: templateSpecOf(lt), MinSize: aws.Int32(0), MaxSize: aws.Int32(2),
		AvailabilityZones: []string{"us-east-1a"}, LifecycleHookSpecificationList: []astypes.LifecycleHookSpecification{{
			LifecycleHookName: aws.String("drain"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"),
			HeartbeatTimeout: aws.Int32(10)}}})
	wantCode(t, err, "ValidationError")
}

// TestTerminatingHookScaleIn: a lower desired capacity sends the leaving
// instances to Terminating:Wait, running, until their actions complete
// (by instance id or token, CONTINUE or ABANDON alike).
func TestTerminatingHookScaleIn(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 3)
	e.waitSettled("g", 3)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 300, "ABANDON")
	e.setDesired("g", 1)
	waiting := e.waitStates("g", "Terminating:Wait", 2)
	if in := e.withState("g", "InService"); len(in) != 1 {
		t.Fatalf("in service: %v", in)
	}
	for _, id := range waiting {
		if !e.rt.isRunning(id) || e.instance(id).State.Name != ec2types.InstanceStateNameRunning {
			t.Fatalf("%s in Terminating:Wait is not running", id)
		}
		a := e.activityOf("g", "Terminating", id)
		if a.StatusCode != astypes.ScalingActivityStatusCodeMidLifecycleAction || a.EndTime != nil {
			t.Fatalf("activity of %s while waiting: %s", id, a.StatusCode)
		}
	}
	if g := e.group("g"); aws.ToInt32(g.DesiredCapacity) != 1 {
		t.Fatalf("desired %d", aws.ToInt32(g.DesiredCapacity))
	}

	// CONTINUE by instance id.
	if err := e.complete("g", "drain", waiting[0], "", "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	e.waitTerminated(waiting[0])
	if e.rt.isRunning(waiting[0]) {
		t.Fatal("runtime still running after termination")
	}
	if a := e.activityOf("g", "Terminating", waiting[0]); a.StatusCode != astypes.ScalingActivityStatusCodeSuccessful || a.EndTime == nil {
		t.Fatalf("activity after termination: %s", a.StatusCode)
	}
	// A second completion finds no action.
	wantCode(t, e.complete("g", "drain", waiting[0], "", "CONTINUE"), "ValidationError")

	// ABANDON by token terminates as well.
	tok := e.token(waiting[1], "drain")
	wantCode(t, e.complete("g", "other", "", tok, "CONTINUE"), "ValidationError")
	if err := e.complete("g", "drain", "", tok, "ABANDON"); err != nil {
		t.Fatal(err)
	}
	e.waitTerminated(waiting[1])
	e.waitSettled("g", 1)
}

// TestHookTimeoutAndHeartbeat: the default result applies when the
// heartbeat timeout runs out; a heartbeat restarts it; the global timeout
// bounds the wait.
func TestHookTimeoutAndHeartbeat(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 1)
	id := ids(e.waitSettled("g", 1))[0]
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 60, "CONTINUE")
	e.terminateInGroup(id, true)
	e.waitStates("g", "Terminating:Wait", 1)

	e.clock.Step(50 * time.Second)
	e.heartbeat("g", "drain", id) // the deadline moves to 110 s
	e.clock.Step(50 * time.Second)
	e.cloud.expireActions(id) // what the 60 s timer does, done synchronously
	if got := e.withState("g", "Terminating:Wait"); len(got) != 1 {
		t.Fatalf("terminated before the heartbeat ran out: %v", got)
	}
	e.clock.Step(11 * time.Second)
	e.waitTerminated(id)

	// The global timeout (100 x 30 s) ends a wait kept alive by heartbeats.
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 30, "ABANDON")
	e.setDesired("g", 1)
	id = ids(e.waitSettled("g", 1))[0]
	e.terminateInGroup(id, true)
	e.waitStates("g", "Terminating:Wait", 1)
	for range 119 { // 119 x 25 s = 2975 s
		e.clock.Step(25 * time.Second)
		e.heartbeat("g", "drain", id)
	}
	if got := e.withState("g", "Terminating:Wait"); len(got) != 1 {
		t.Fatalf("left before the global timeout: %v", got)
	}
	e.clock.Step(25 * time.Second)
	e.waitTerminated(id)
}

func (e *env) terminateInGroup(id string, decrement bool) *autoscaling.TerminateInstanceInAutoScalingGroupOutput {
	e.t.Helper()
	return must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](e.t)(e.as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(decrement)}))
}

// TestLaunchingHook: a launched instance waits in Pending:Wait, running;
// CONTINUE puts it in service, ABANDON (or a timeout with ABANDON)
// terminates it and the group launches another.
func TestLaunchingHook(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 0)
	e.putHook("g", "warm", "autoscaling:EC2_INSTANCE_LAUNCHING", 30, "ABANDON")
	e.setDesired("g", 1)
	first := e.waitStates("g", "Pending:Wait", 1)[0]
	if !e.rt.isRunning(first) {
		t.Fatal("instance in Pending:Wait is not running")
	}
	if a := e.activityOf("g", "Launching", first); a.StatusCode != astypes.ScalingActivityStatusCodeMidLifecycleAction {
		t.Fatalf("launch activity while waiting: %s", a.StatusCode)
	}
	if err := e.complete("g", "warm", first, "", "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	e.waitSettled("g", 1)
	if a := e.activityOf("g", "Launching", first); a.StatusCode != astypes.ScalingActivityStatusCodeSuccessful {
		t.Fatalf("launch activity after CONTINUE: %s", a.StatusCode)
	}

	e.setDesired("g", 2)
	second := e.waitStates("g", "Pending:Wait", 1)[0]
	if err := e.complete("g", "warm", "", e.token(second, "warm"), "ABANDON"); err != nil {
		t.Fatal(err)
	}
	e.waitTerminated(second)
	if a := e.activityOf("g", "Launching", second); a.StatusCode != astypes.ScalingActivityStatusCodeFailed {
		t.Fatalf("launch activity after ABANDON: %s", a.StatusCode)
	}
	// The group launches a replacement; left alone, its action times out
	// with ABANDON.
	var third string
	testenv.EventuallyTrue(t, waitTimeout, "a replacement in Pending:Wait", func() bool {
		w := e.withState("g", "Pending:Wait")
		if len(w) == 1 && w[0] != second {
			third = w[0]
			return true
		}
		return false
	})
	e.clock.Step(30 * time.Second)
	e.waitTerminated(third)
}

// TestEveryRemovalGoesThroughTheHook: TerminateInstanceInAutoScalingGroup
// with and without decrement and a spot interruption wait on the hook;
// EC2 TerminateInstances, deleting the hook and a force delete do not.
func TestEveryRemovalGoesThroughTheHook(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 5, 2)
	insts := ids(e.waitSettled("g", 2))
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 3600, "ABANDON")

	out := e.terminateInGroup(insts[0], true)
	if out.Activity.StatusCode != astypes.ScalingActivityStatusCodeMidLifecycleAction {
		t.Fatalf("terminate activity %s", out.Activity.StatusCode)
	}
	e.waitStates("g", "Terminating:Wait", 1)
	if g := e.group("g"); aws.ToInt32(g.DesiredCapacity) != 1 {
		t.Fatalf("desired %d after decrement", aws.ToInt32(g.DesiredCapacity))
	}
	_, err := e.as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(insts[0]), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	wantCode(t, err, "ValidationError")

	// Without decrement the group replaces the instance while it waits.
	e.terminateInGroup(insts[1], false)
	testenv.EventuallyTrue(t, waitTimeout, "a replacement beside two waiting instances", func() bool {
		return len(e.withState("g", "Terminating:Wait")) == 2 && len(e.withState("g", "InService")) == 1
	})

	// EC2 TerminateInstances skips the hook, even for a waiting instance.
	must[*ec2.TerminateInstancesOutput](t)(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{insts[0]}}))
	e.waitTerminated(insts[0])
	repl := e.withState("g", "InService")[0]
	must[*ec2.TerminateInstancesOutput](t)(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{repl}}))
	e.waitTerminated(repl)

	// Deleting the hook lets the waiting instance go (CONTINUE).
	must[*autoscaling.DeleteLifecycleHookOutput](t)(e.as.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("drain")}))
	e.waitTerminated(insts[1])

	// A force delete terminates waiting instances at once.
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 3600, "ABANDON")
	last := ids(e.waitSettled("g", 1))[0]
	e.setDesired("g", 0)
	e.waitStates("g", "Terminating:Wait", 1)
	must[*autoscaling.DeleteAutoScalingGroupOutput](t)(e.as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), ForceDelete: aws.Bool(true)}))
	e.waitTerminated(last)
}

// TestSpotInterruptionThroughTheHook: the notice sends the instance to
// Terminating:Wait (the group replaces it at once) and the deadline
// terminates it whatever the hook says.
func TestSpotInterruptionThroughTheHook(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Faults.SpotInterruption = SpotInterruption{Notice: Duration{2 * time.Minute}} })
	must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("spot"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(ImageLocalNode), InstanceType: ec2types.InstanceTypeM5Large,
			InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}}}))
	must[*autoscaling.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("spot")},
		MinSize: aws.Int32(1), MaxSize: aws.Int32(2), AvailabilityZones: []string{"us-east-1a"}}))
	id := ids(e.waitSettled("g", 1))[0]
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 7200, "ABANDON")
	if err := e.cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	if got := e.withState("g", "Terminating:Wait"); len(got) != 1 || got[0] != id {
		t.Fatalf("waiting after the notice: %v", got)
	}
	testenv.EventuallyTrue(t, waitTimeout, "a replacement", func() bool { return len(e.withState("g", "InService")) == 1 })
	e.heartbeat("g", "drain", id)
	e.clock.Step(2 * time.Minute)
	e.waitTerminated(id)
	if code := aws.ToString(e.instance(id).StateReason.Code); code != "Server.SpotInstanceTermination" {
		t.Fatalf("state reason %q", code)
	}
	if a := e.activityOf("g", "Terminating", id); a.StatusCode != astypes.ScalingActivityStatusCodeSuccessful ||
		!strings.Contains(aws.ToString(a.Cause), "Spot Instance interruption") {
		t.Fatalf("activity %s: %s", a.StatusCode, aws.ToString(a.Cause))
	}
}

// TestHooksSurviveRestart: hooks and waiting instances (booted again,
// their timeouts re-armed) outlive a restart.
func TestHooksSurviveRestart(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 2)
	e.waitSettled("g", 2)
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")
	e.setDesired("g", 0)
	waiting := e.waitStates("g", "Terminating:Wait", 2)
	tok := e.token(waiting[0], "drain")
	e.restart()
	hooks := must[*autoscaling.DescribeLifecycleHooksOutput](t)(e.as.DescribeLifecycleHooks(ctx,
		&autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("g")})).LifecycleHooks
	if len(hooks) != 1 || aws.ToInt32(hooks[0].HeartbeatTimeout) != 600 {
		t.Fatalf("hooks after restart %+v", hooks)
	}
	if got := e.withState("g", "Terminating:Wait"); len(got) != 2 {
		t.Fatalf("waiting after restart: %v", got)
	}
	testenv.EventuallyTrue(t, waitTimeout, "waiting instances booted again", func() bool {
		return e.rt.isRunning(waiting[0]) && e.rt.isRunning(waiting[1]) && e.rt.bootCount(waiting[0]) == 2
	})
	if err := e.complete("g", "drain", "", tok, "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	e.waitTerminated(waiting[0])
	e.clock.Step(600 * time.Second)
	e.waitTerminated(waiting[1])
}

// TestScaleInByTerminationPolicy: the group's policy picks the victim.
func TestScaleInByTerminationPolicy(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 1)
	oldest := ids(e.waitSettled("g", 1))[0]
	e.clock.Step(time.Minute)
	e.setDesired("g", 2)
	var newest string
	for _, id := range ids(e.waitSettled("g", 2)) {
		if id != oldest {
			newest = id
		}
	}
	_, err := e.as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"),
		TerminationPolicies: []string{"YoungestFirst"}})
	wantCode(t, err, "ValidationError")
	must[*autoscaling.UpdateAutoScalingGroupOutput](t)(e.as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), TerminationPolicies: []string{"NewestInstance"}}))
	e.putHook("g", "drain", "autoscaling:EC2_INSTANCE_TERMINATING", 60, "CONTINUE")
	e.setDesired("g", 1)
	if got := e.waitStates("g", "Terminating:Wait", 1); got[0] != newest {
		t.Fatalf("NewestInstance chose %s, want %s", got[0], newest)
	}
}
