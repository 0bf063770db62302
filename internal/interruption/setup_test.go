package interruption

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestRules(t *testing.T) {
	rules := Spec{Name: "kelp-dev"}.Rules()
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
		var p map[string]any
		if err := json.Unmarshal([]byte(r.Pattern), &p); err != nil {
			t.Fatalf("rule %s: pattern %s: %v", r.Name, r.Pattern, err)
		}
	}
	want := []string{"kelp-dev-spot-interruption", "kelp-dev-rebalance", "kelp-dev-lifecycle", "kelp-dev-state-change", "kelp-dev-scheduled-change"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("rules %v, want %v", names, want)
	}
	if got := rules[2].Pattern; got != `{"detail":{"LifecycleHookName":["kelp-drain"]},"detail-type":["EC2 Instance-terminate Lifecycle Action"],"source":["aws.autoscaling"]}` {
		t.Fatalf("lifecycle pattern %s", got)
	}
	if got := (Spec{Name: "q", HookName: "my-hook"}).Rules()[2].Pattern; !strings.Contains(got, `"LifecycleHookName":["my-hook"]`) {
		t.Fatalf("lifecycle pattern with a hook name: %s", got)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec  Spec
		wants []string
	}{
		{Spec{Name: "kelp-dev_1"}, nil},
		{Spec{Name: strings.Repeat("q", 46)}, nil},
		{Spec{}, []string{"queue name is required"}},
		{Spec{Name: strings.Repeat("q", 47)}, []string{"1 to 46"}},
		{Spec{Name: "kelp.dev"}, []string{`queue name "kelp.dev"`}},
		{Spec{Name: "a b", HookName: "hook!"}, []string{`queue name "a b"`, `hook name "hook!"`}},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if tt.wants == nil {
			if err != nil {
				t.Errorf("Validate(%+v): %v", tt.spec, err)
			}
			continue
		}
		testenv.ErrorContains(t, err, tt.wants...)
	}
}

func TestEnsureQueueIsIdempotent(t *testing.T) {
	e := newEnv(t)
	spec := Spec{Name: "kelp-dev"}
	first, err := EnsureQueue(ctx, e.sqs, e.eb, spec)
	if err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	if !first.Complete() || !strings.HasSuffix(first.URL, "/kelp-dev") || first.ARN != "arn:aws:sqs:us-east-1:000000000000:kelp-dev" {
		t.Fatalf("EnsureQueue: %+v", first)
	}
	if got := first.Attributes["MessageRetentionPeriod"]; got != MessageRetention {
		t.Errorf("retention %s, want %s", got, MessageRetention)
	}
	var policy struct {
		Statement []struct {
			Principal struct{ Service []string }
			Resource  string
			Condition struct {
				ArnEquals map[string][]string
			}
		}
	}
	if err := json.Unmarshal([]byte(first.Attributes["Policy"]), &policy); err != nil || len(policy.Statement) != 1 {
		t.Fatalf("policy %s: %v", first.Attributes["Policy"], err)
	}
	var ruleARNs []string
	for _, r := range first.Rules {
		ruleARNs = append(ruleARNs, r.ARN)
	}
	s := policy.Statement[0]
	if s.Resource != first.ARN || !reflect.DeepEqual(s.Principal.Service, []string{"events.amazonaws.com", "sqs.amazonaws.com"}) ||
		!reflect.DeepEqual(s.Condition.ArnEquals["aws:SourceArn"], ruleARNs) {
		t.Fatalf("policy statement %+v, rules %v", s, ruleARNs)
	}
	// A rule disabled and a target removed by hand are put back.
	if _, err := e.eb.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: sdkaws.String("kelp-dev-rebalance")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: sdkaws.String("kelp-dev-lifecycle"), Ids: []string{TargetID}}); err != nil {
		t.Fatal(err)
	}
	if broken, err := DescribeQueue(ctx, e.sqs, e.eb, spec); err != nil || broken.Complete() {
		t.Fatalf("DescribeQueue after breaking it: complete %v, %v", broken.Complete(), err)
	}
	again, err := EnsureQueue(ctx, e.sqs, e.eb, spec)
	if err != nil {
		t.Fatalf("EnsureQueue again: %v", err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("EnsureQueue again:\n got %+v\nwant %+v", again, first)
	}
	targets, err := e.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: sdkaws.String("kelp-dev-spot-interruption")})
	if err != nil || len(targets.Targets) != 1 {
		t.Fatalf("targets after two EnsureQueue: %+v, %v", targets, err)
	}
}

func TestEnsureQueueAdoptsAnExistingQueue(t *testing.T) {
	e := newEnv(t)
	if _, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: sdkaws.String("q"),
		Attributes: map[string]string{"MessageRetentionPeriod": "600", "VisibilityTimeout": "45"}}); err != nil {
		t.Fatal(err)
	}
	st, err := EnsureQueue(ctx, e.sqs, e.eb, Spec{Name: "q"})
	if err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	if st.Attributes["MessageRetentionPeriod"] != MessageRetention || st.Attributes["VisibilityTimeout"] != "45" {
		t.Fatalf("attributes of an adopted queue: %v", st.Attributes)
	}
}

func TestDeleteQueueLeavesNothing(t *testing.T) {
	e := newEnv(t)
	spec := Spec{Name: "kelp-dev"}
	if _, err := EnsureQueue(ctx, e.sqs, e.eb, spec); err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	// Another queue's rules stay.
	if _, err := EnsureQueue(ctx, e.sqs, e.eb, Spec{Name: "other"}); err != nil {
		t.Fatalf("EnsureQueue other: %v", err)
	}
	if err := DeleteQueue(ctx, e.sqs, e.eb, spec); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
	rules, err := e.eb.ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.Rules {
		if !strings.HasPrefix(sdkaws.ToString(r.Name), "other-") {
			t.Errorf("rule %s left", sdkaws.ToString(r.Name))
		}
	}
	if len(rules.Rules) != 5 {
		t.Errorf("%d rules left, want the other queue's 5", len(rules.Rules))
	}
	if _, err := DescribeQueue(ctx, e.sqs, e.eb, spec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DescribeQueue after DeleteQueue: %v, want ErrNotFound", err)
	}
	if err := DeleteQueue(ctx, e.sqs, e.eb, spec); err != nil {
		t.Fatalf("DeleteQueue again: %v", err)
	}
	if st, err := DescribeQueue(ctx, e.sqs, e.eb, Spec{Name: "other"}); err != nil || !st.Complete() {
		t.Fatalf("the other queue: %+v, %v", st, err)
	}
}

func TestDeleteQueueKeepsRulesWithOtherTargets(t *testing.T) {
	e := newEnv(t)
	spec := Spec{Name: "kelp-dev"}
	st, err := EnsureQueue(ctx, e.sqs, e.eb, spec)
	if err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	if _, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: sdkaws.String("kelp-dev-rebalance"),
		Targets: []ebtypes.Target{{Id: sdkaws.String("mine"), Arn: sdkaws.String(st.ARN)}}}); err != nil {
		t.Fatal(err)
	}
	err = DeleteQueue(ctx, e.sqs, e.eb, spec)
	testenv.ErrorContains(t, err, "delete rule kelp-dev-rebalance", "targets")
}

func TestSetupRejectsBadNames(t *testing.T) {
	e := newEnv(t)
	_, err := EnsureQueue(ctx, e.sqs, e.eb, Spec{Name: "kelp.dev"})
	testenv.ErrorContains(t, err, "interruption queue", `queue name "kelp.dev"`)
	_, err = DescribeQueue(ctx, e.sqs, e.eb, Spec{})
	testenv.ErrorContains(t, err, "queue name is required")
	err = DeleteQueue(ctx, e.sqs, e.eb, Spec{Name: strings.Repeat("x", 60)})
	testenv.ErrorContains(t, err, "1 to 46")
	_, err = DescribeQueue(ctx, e.sqs, e.eb, Spec{Name: "missing"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("DescribeQueue of a missing queue: %v", err)
	}
}

// TestDocsShowTheRules keeps docs/aws.md's table of rules true.
func TestDocsShowTheRules(t *testing.T) {
	doc, err := os.ReadFile("../../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range (Spec{Name: "NAME"}).Rules() {
		if row := "| `" + r.Name + "` | `" + r.Pattern + "` |"; !strings.Contains(string(doc), row) {
			t.Errorf("docs/aws.md lacks the row %s", row)
		}
	}
}
