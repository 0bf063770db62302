package localcloud

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func (e *env) eventsClient() *eventbridge.Client {
	cfg := aws.Config{Region: DefaultRegion, Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
}

// eventsPolicy lets EventBridge send to a queue, as docs/aws.md sets it up.
const eventsPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"EventBridge","Effect":"Allow",` +
	`"Principal":{"Service":["events.amazonaws.com","sqs.amazonaws.com"]},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:%s"}]}`

// eventQueue creates a queue that EventBridge may send to and a rule with
// pattern whose target it is; it returns the queue's URL.
func (e *env) eventQueue(name, pattern string) string {
	e.t.Helper()
	url := e.createQueue(e.sqsClient(), name, map[string]string{"Policy": strings.ReplaceAll(eventsPolicy, "%s", name)})
	eb := e.eventsClient()
	must[*eventbridge.PutRuleOutput](e.t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}))
	out := must[*eventbridge.PutTargetsOutput](e.t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String("arn:aws:sqs:us-east-1:" + AccountID + ":" + name)}}}))
	if out.FailedEntryCount != 0 {
		e.t.Fatalf("PutTargets: %+v", out.FailedEntries)
	}
	return url
}

// events receives and deletes every message of a queue, decoded.
func (e *env) events(url string) []map[string]any {
	e.t.Helper()
	c := e.sqsClient()
	var out []map[string]any
	for {
		msgs := receive(e.t, c, url, 10)
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			var ev map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				e.t.Fatalf("message body is not an event: %v: %s", err, aws.ToString(m.Body))
			}
			out = append(out, ev)
			must[*sqs.DeleteMessageOutput](e.t)(c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}))
		}
	}
}

func (e *env) spotGroup(name string) string {
	e.t.Helper()
	must[*ec2.CreateLaunchTemplateOutput](e.t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("spot-" + name), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(ImageLocalNode), InstanceType: ec2types.InstanceTypeM5Large,
			InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}}}))
	must[*autoscaling.CreateAutoScalingGroupOutput](e.t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("spot-" + name)},
		MinSize: aws.Int32(1), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}}))
	return ids(e.waitSettled(name, 1))[0]
}

func detail(ev map[string]any) map[string]any { d, _ := ev["detail"].(map[string]any); return d }

func TestSpotInterruptionWarningBeforeTermination(t *testing.T) {
	e := newEnv(t)
	warnings := e.eventQueue("interruptions", `{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`)
	states := e.eventQueue("states", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["shutting-down","terminated"]}}`)
	id := e.spotGroup("g")
	if err := e.cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	got := e.events(warnings)
	if len(got) != 1 {
		t.Fatalf("warnings: %v", got)
	}
	// EC2's notice is two minutes: its warning does not say when.
	if d := detail(got[0]); d["instance-id"] != id || d["instance-action"] != "terminate" || d["time"] != nil ||
		got[0]["time"] != testStart.Format(time.RFC3339) {
		t.Fatalf("warning: %v", got[0])
	}
	if s := e.instance(id).State.Name; s != ec2types.InstanceStateNameRunning {
		t.Fatalf("the instance is %s at the warning", s)
	}
	if got := e.events(states); len(got) != 0 {
		t.Fatalf("state changes before the deadline: %v", got)
	}
	e.clock.Step(DefaultSpotInterruptionNotice)
	testenv.EventuallyTrue(t, waitTimeout, "the interruption", func() bool { return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated })
	var seen []string
	testenv.EventuallyTrue(t, waitTimeout, "the state changes", func() bool {
		for _, ev := range e.events(states) {
			if d := detail(ev); d["instance-id"] == id {
				seen = append(seen, d["state"].(string))
			}
		}
		return len(seen) == 2
	})
	if !reflect.DeepEqual(seen, []string{"shutting-down", "terminated"}) {
		t.Fatalf("state changes %v", seen)
	}
}

// TestSpotWarningOfAShortNoticeSaysWhen: with a notice other than EC2's
// two minutes, the warning's detail says when the instance goes, so a
// consumer does not count two minutes from the event.
func TestSpotWarningOfAShortNoticeSaysWhen(t *testing.T) {
	notice := 40 * time.Second
	e := newEnv(t, func(o *Options) { o.Faults.SpotInterruption.Notice.Duration = notice })
	warnings := e.eventQueue("interruptions", `{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`)
	id := e.spotGroup("g")
	if err := e.cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	got := e.events(warnings)
	if len(got) != 1 {
		t.Fatalf("warnings: %v", got)
	}
	if d := detail(got[0]); d["instance-id"] != id || d["time"] != testStart.Add(notice).Format(time.RFC3339) {
		t.Fatalf("warning detail %v, want the time %s", d, testStart.Add(notice).Format(time.RFC3339))
	}
}

func TestInstanceEventsAndTestHooks(t *testing.T) {
	e := newEnv(t)
	all := e.eventQueue("all", `{"source":["aws.ec2","aws.health"]}`)
	id := e.spotGroup("g")
	if err := e.cloud.RecommendRebalance(id); err != nil {
		t.Fatal(err)
	}
	start := testStart.Add(14 * 24 * time.Hour)
	if err := e.cloud.ScheduleHealthEvent(id, "", start); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range e.events(all) {
		d := detail(ev)
		switch ev["detail-type"] {
		case DetailStateChange:
			kinds = append(kinds, "state:"+d["state"].(string))
		case DetailRebalance:
			kinds = append(kinds, "rebalance")
			if d["instance-id"] != id {
				t.Errorf("rebalance: %v", ev)
			}
		case DetailHealth:
			kinds = append(kinds, "health")
			entities, _ := d["affectedEntities"].([]any)
			if d["eventTypeCategory"] != "scheduledChange" || len(entities) != 1 || entities[0].(map[string]any)["entityValue"] != id {
				t.Errorf("health: %v", ev)
			}
		}
	}
	if want := []string{"state:pending", "state:running", "rebalance", "health"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if err := e.cloud.RecommendRebalance("i-0123456789abcdef0"); err == nil {
		t.Fatal("a rebalance recommendation for no instance")
	}
}

func TestEventsNeedTheQueuePolicy(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "closed", nil)
	eb := e.eventsClient()
	must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["aws.ec2"]}`)}))
	must[*eventbridge.PutTargetsOutput](t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:" + AccountID + ":closed")}}}))
	e.spotGroup("g")
	if got := e.events(url); len(got) != 0 {
		t.Fatalf("delivered without a policy: %v", got)
	}
	policy := strings.ReplaceAll(eventsPolicy, "%s", "closed")
	must[*sqs.SetQueueAttributesOutput](t)(c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"Policy": policy}}))
	id := e.waitSettled("g", 1)[0].InstanceId
	if err := e.cloud.RecommendRebalance(aws.ToString(id)); err != nil {
		t.Fatal(err)
	}
	if got := e.events(url); len(got) != 1 || got[0]["detail-type"] != DetailRebalance {
		t.Fatalf("with the policy: %v", got)
	}
}

func TestEventsAPI(t *testing.T) {
	e := newEnv(t)
	eb := e.eventsClient()
	var badPattern *ebtypes.InvalidEventPatternException
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":"aws.ec2"}`)}); !errors.As(err, &badPattern) {
		t.Fatalf("a bad pattern: %v", err)
	}
	pattern := `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance-terminate Lifecycle Action"]}`
	out := must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(pattern), Description: aws.String("d")}))
	if want := "arn:aws:events:us-east-1:" + AccountID + ":rule/r"; aws.ToString(out.RuleArn) != want {
		t.Fatalf("RuleArn %s", aws.ToString(out.RuleArn))
	}
	targets := must[*eventbridge.PutTargetsOutput](t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
		{Id: aws.String("ok"), Arn: aws.String("arn:aws:sqs:us-east-1:" + AccountID + ":q")},
		{Id: aws.String("lambda"), Arn: aws.String("arn:aws:lambda:us-east-1:" + AccountID + ":function:f")}}}))
	if targets.FailedEntryCount != 1 || aws.ToString(targets.FailedEntries[0].TargetId) != "lambda" {
		t.Fatalf("PutTargets: %+v", targets)
	}
	e.restart()
	eb = e.eventsClient()
	rule := must[*eventbridge.DescribeRuleOutput](t)(eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r")}))
	if aws.ToString(rule.EventPattern) != pattern || rule.State != ebtypes.RuleStateEnabled || aws.ToString(rule.Description) != "d" {
		t.Fatalf("DescribeRule after a restart: %+v", rule)
	}
	list := must[*eventbridge.ListTargetsByRuleOutput](t)(eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")}))
	if len(list.Targets) != 1 || aws.ToString(list.Targets[0].Id) != "ok" {
		t.Fatalf("ListTargetsByRule: %+v", list.Targets)
	}
	var api smithy.APIError
	if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r")}); !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Fatalf("DeleteRule with targets: %v", err)
	}
	must[*eventbridge.RemoveTargetsOutput](t)(eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r"), Ids: []string{"ok"}}))
	must[*eventbridge.DeleteRuleOutput](t)(eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r")}))
	var notFound *ebtypes.ResourceNotFoundException
	if _, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r")}); !errors.As(err, &notFound) {
		t.Fatalf("DescribeRule of a deleted rule: %v", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(pattern), EventBusName: aws.String("custom")}); !errors.As(err, &notFound) {
		t.Fatalf("a custom bus: %v", err)
	}
}

// TestLifecycleActionEventDelivered: an instance a scale-in sends into
// Terminating:Wait on a hook produces "EC2 Instance-terminate Lifecycle
// Action" with the token that completes it.
func TestLifecycleActionEventDelivered(t *testing.T) {
	e := newEnv(t)
	url := e.eventQueue("hooks", `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance-terminate Lifecycle Action"]}`)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	e.waitSettled("g", 2)
	must[*autoscaling.PutLifecycleHookOutput](t)(e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("kelp-drain"), HeartbeatTimeout: aws.Int32(300),
		LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"), NotificationMetadata: aws.String(`{"pool":"g"}`)}))
	e.setDesired("g", 1)
	waiting := e.waitStates("g", "Terminating:Wait", 1)
	var got []map[string]any
	testenv.EventuallyTrue(t, 10*time.Second, "the lifecycle action event", func() bool {
		got = append(got, e.events(url)...)
		return len(got) > 0
	})
	d := detail(got[0])
	if len(got) != 1 || d["EC2InstanceId"] != waiting[0] || d["LifecycleHookName"] != "kelp-drain" || d["AutoScalingGroupName"] != "g" ||
		d["LifecycleTransition"] != "autoscaling:EC2_INSTANCE_TERMINATING" || d["NotificationMetadata"] != `{"pool":"g"}` {
		t.Fatalf("lifecycle events: %v", got)
	}
	token, _ := d["LifecycleActionToken"].(string)
	if token != e.token(waiting[0], "kelp-drain") {
		t.Fatalf("event token %q is not the action's", token)
	}
	if err := e.complete("g", "kelp-drain", "", token, "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	e.waitTerminated(waiting[0])
}

// TestEventJSON checks every event the cloud publishes field by field
// against the shapes EventBridge documents.
func TestEventJSON(t *testing.T) {
	e := newEnv(t)
	c := e.cloud
	now := testStart
	id := "i-0123456789abcdef0"
	arn := "arn:aws:ec2:us-east-1:" + AccountID + ":instance/" + id
	start := now.Add(time.Hour)
	tests := []struct {
		name      string
		ev        Event
		source    string
		resources []string
		detail    map[string]any // fields that must be there with these values
		keys      []string       // every key of detail
	}{
		{name: "spot warning", ev: c.spotWarningEvent(id, now, now.Add(DefaultSpotInterruptionNotice)), source: "aws.ec2", resources: []string{arn},
			detail: map[string]any{"instance-id": id, "instance-action": "terminate"}, keys: []string{"instance-action", "instance-id"}},
		{name: "spot warning, short notice", ev: c.spotWarningEvent(id, now, now.Add(40*time.Second)), source: "aws.ec2", resources: []string{arn},
			detail: map[string]any{"instance-id": id, "instance-action": "terminate", "time": now.Add(40 * time.Second).Format(time.RFC3339)},
			keys:   []string{"instance-action", "instance-id", "time"}},
		{name: "rebalance", ev: c.rebalanceEvent(id, now), source: "aws.ec2", resources: []string{arn},
			detail: map[string]any{"instance-id": id}, keys: []string{"instance-id"}},
		{name: "state change", ev: c.stateChangeEvent(id, "running", now), source: "aws.ec2", resources: []string{arn},
			detail: map[string]any{"instance-id": id, "state": "running"}, keys: []string{"instance-id", "state"}},
		{name: "health", ev: c.healthEvent(id, HealthEventCode, start, now), source: "aws.health", resources: []string{id},
			detail: map[string]any{"service": "EC2", "eventTypeCode": HealthEventCode, "eventTypeCategory": "scheduledChange",
				"eventScopeCode": "ACCOUNT_SPECIFIC", "statusCode": "upcoming", "eventRegion": "us-east-1",
				"startTime": "Sun, 01 Jun 2025 13:00:00 GMT", "affectedEntities": []any{map[string]any{"entityValue": id}}},
			keys: []string{"affectedEntities", "communicationId", "endTime", "eventArn", "eventDescription", "eventRegion",
				"eventScopeCode", "eventTypeCategory", "eventTypeCode", "lastUpdatedTime", "service", "startTime", "statusCode"}},
		{name: "terminate lifecycle action", source: "aws.autoscaling", resources: []string{"arn:aws:autoscaling:group"},
			ev: c.lifecycleActionEvent(LifecycleAction{Token: "87654321-4321-4321-4321-210987654321", GroupName: "my-asg",
				GroupARN: "arn:aws:autoscaling:group", HookName: "my-hook", InstanceID: id,
				Transition: "autoscaling:EC2_INSTANCE_TERMINATING", Metadata: "meta"}, now),
			detail: map[string]any{"LifecycleActionToken": "87654321-4321-4321-4321-210987654321", "AutoScalingGroupName": "my-asg",
				"LifecycleHookName": "my-hook", "EC2InstanceId": id, "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
				"NotificationMetadata": "meta", "Origin": "AutoScalingGroup", "Destination": "EC2"},
			keys: []string{"AutoScalingGroupName", "Destination", "EC2InstanceId", "LifecycleActionToken", "LifecycleHookName",
				"LifecycleTransition", "NotificationMetadata", "Origin"}},
	}
	wantTypes := map[string]string{"spot warning": DetailSpotInterruption, "spot warning, short notice": DetailSpotInterruption, "rebalance": DetailRebalance, "state change": DetailStateChange,
		"health": DetailHealth, "terminate lifecycle action": "EC2 Instance-terminate Lifecycle Action"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			envelope := []string{"account", "detail", "detail-type", "id", "region", "resources", "source", "time", "version"}
			if keys := sortedKeys(got); !reflect.DeepEqual(keys, envelope) {
				t.Fatalf("envelope keys %v, want %v", keys, envelope)
			}
			if got["version"] != "0" || got["account"] != AccountID || got["region"] != "us-east-1" ||
				got["time"] != "2025-06-01T12:00:00Z" || got["source"] != tt.source || got["detail-type"] != wantTypes[tt.name] {
				t.Fatalf("envelope %s", raw)
			}
			if res := stringsOf(got["resources"]); !reflect.DeepEqual(res, tt.resources) {
				t.Fatalf("resources %v, want %v", res, tt.resources)
			}
			d := detail(got)
			if keys := sortedKeys(d); !reflect.DeepEqual(keys, tt.keys) {
				t.Fatalf("detail keys %v, want %v", keys, tt.keys)
			}
			for k, want := range tt.detail {
				if !reflect.DeepEqual(d[k], want) {
					t.Errorf("detail.%s = %v, want %v", k, d[k], want)
				}
			}
		})
	}
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestMatchPattern(t *testing.T) {
	event := map[string]any{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
		"resources": []any{"arn:a", "arn:b"}, "detail": map[string]any{"instance-id": "i-1", "state": "running", "n": 3.0}}
	tests := []struct {
		pattern string
		want    bool
	}{
		{`{"source":["aws.ec2"]}`, true},
		{`{"source":["aws.health","aws.ec2"]}`, true},
		{`{"source":["aws.health"]}`, false},
		{`{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`, false},
		{`{"detail":{"state":["running"]}}`, true},
		{`{"detail":{"state":["stopped"]}}`, false},
		{`{"detail":{"n":[3]}}`, true},
		{`{"detail":{"missing":["x"]}}`, false},
		{`{"resources":["arn:b"]}`, true},
		{`{"resources":["arn:c"]}`, false},
		{`{"source":{"nested":["x"]}}`, false},
	}
	for _, tt := range tests {
		p, err := parseEventPattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := matchPattern(p, event); got != tt.want {
			t.Errorf("%s: match %v, want %v", tt.pattern, got, tt.want)
		}
	}
	for _, bad := range []string{`{}`, `[]`, `{"source":"aws.ec2"}`, `{"source":[{"prefix":"aws."}]}`, `not json`} {
		if _, err := parseEventPattern(bad); err == nil {
			t.Errorf("pattern %s accepted", bad)
		}
	}
}

func TestPolicyAllowsEvents(t *testing.T) {
	q := "arn:aws:sqs:us-east-1:" + AccountID + ":q"
	tests := []struct {
		policy string
		want   bool
	}{
		{"", false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + q + `"}]}`, true},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":["sqs:*"]}}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"sqs.amazonaws.com"},"Action":"sqs:SendMessage"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:ReceiveMessage"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:other"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage"}]}`, false},
	}
	for _, tt := range tests {
		if got := policyAllowsEvents(tt.policy, q); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.policy, got, tt.want)
		}
	}
}
