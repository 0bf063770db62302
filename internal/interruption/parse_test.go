package interruption

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/termination"
)

// The events as AWS documents them (EC2 user guide, Auto Scaling user
// guide, AWS Health's EventBridge schema), ids and times made concrete.
const (
	awsSpotWarning = `{"version":"0","id":"12345678-1234-1234-1234-123456789012","detail-type":"EC2 Spot Instance Interruption Warning",
		"source":"aws.ec2","account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-east-2",
		"resources":["arn:aws:ec2:us-east-2a:instance/i-1234567890abcdef0"],
		"detail":{"instance-id":"i-1234567890abcdef0","instance-action":"terminate"}}`
	awsRebalance = `{"version":"0","id":"12345678-1234-1234-1234-123456789013","detail-type":"EC2 Instance Rebalance Recommendation",
		"source":"aws.ec2","account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-east-2",
		"resources":["arn:aws:ec2:us-east-2:123456789012:instance/i-1234567890abcdef0"],
		"detail":{"instance-id":"i-1234567890abcdef0"}}`
	awsStateChange = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification",
		"source":"aws.ec2","account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-east-1",
		"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
		"detail":{"instance-id":"i-abcd1111","state":"shutting-down"}}`
	awsTerminateAction = `{"version":"0","id":"468fa2ea-1a5f-4a8c-9b5a-9a2ed8bdbd93","detail-type":"EC2 Instance-terminate Lifecycle Action",
		"source":"aws.autoscaling","account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-west-2",
		"resources":["arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:042cba90-ad2f-431c-9b4d-6d9055bcc9fb:autoScalingGroupName/my-asg"],
		"detail":{"LifecycleActionToken":"87654321-4321-4321-4321-210987654321","AutoScalingGroupName":"my-asg",
		"LifecycleHookName":"my-lifecycle-hook","EC2InstanceId":"i-1234567890abcdef0",
		"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","NotificationMetadata":"additional-info",
		"Origin":"AutoScalingGroup","Destination":"EC2"}}`
	awsHealth = `{"version":"0","id":"121345678-1234-1234-1234-123456789012","detail-type":"AWS Health Event",
		"source":"aws.health","account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-west-2",
		"resources":["i-abcd1111","i-abcd2222"],
		"detail":{"eventArn":"arn:aws:health:us-west-2::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_ABC123",
		"service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange",
		"eventScopeCode":"ACCOUNT_SPECIFIC","communicationId":"1234abc01232a4012345678-1","startTime":"Sun, 15 Jun 2025 12:00:00 GMT",
		"endTime":"Sun, 15 Jun 2025 13:00:00 GMT","lastUpdatedTime":"Sun, 01 Jun 2025 12:00:00 GMT","statusCode":"upcoming",
		"eventRegion":"us-west-2","eventDescription":[{"language":"en_US","latestDescription":"A description of the event will be provided here"}],
		"affectedEntities":[{"entityValue":"i-abcd1111"},{"entityValue":"i-abcd2222"}]}}`
)

var at = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	start := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	health := func(id string) termination.Notice {
		return termination.Notice{Kind: termination.NoticeWarning, EventID: "121345678-1234-1234-1234-123456789012",
			Departure: termination.Departure{InstanceID: id, Cause: termination.CauseScheduledChange, NoticedAt: at, Deadline: start}}
	}
	tests := []struct {
		name string
		body string
		want []termination.Notice
	}{
		{"spot interruption warning", awsSpotWarning, []termination.Notice{{Kind: termination.NoticeWarning,
			EventID: "12345678-1234-1234-1234-123456789012", Departure: termination.Departure{InstanceID: "i-1234567890abcdef0",
				Cause: termination.CauseSpotInterruption, NoticedAt: at, Deadline: at.Add(2 * time.Minute)}}}},
		{"spot interruption warning with the action's time", strings.Replace(awsSpotWarning, `"instance-action":"terminate"`,
			`"instance-action":"terminate","time":"2025-06-01T12:00:30Z"`, 1), []termination.Notice{{Kind: termination.NoticeWarning,
			EventID: "12345678-1234-1234-1234-123456789012", Departure: termination.Departure{InstanceID: "i-1234567890abcdef0",
				Cause: termination.CauseSpotInterruption, NoticedAt: at, Deadline: at.Add(30 * time.Second)}}}},
		{"rebalance recommendation", awsRebalance, []termination.Notice{{Kind: termination.NoticeWarning,
			EventID: "12345678-1234-1234-1234-123456789013", Departure: termination.Departure{InstanceID: "i-1234567890abcdef0",
				Cause: termination.CauseRebalanceRecommendation, NoticedAt: at}}}},
		{"state change", awsStateChange, []termination.Notice{{Kind: termination.NoticeStateChange, State: "shutting-down",
			EventID: "7bf73129-1428-4cd3-a780-95db273d1602", Departure: termination.Departure{InstanceID: "i-abcd1111",
				Cause: termination.CauseUnknown, NoticedAt: at}}}},
		{"terminate lifecycle action", awsTerminateAction, []termination.Notice{{Kind: termination.NoticeLifecycleAction,
			Token: "87654321-4321-4321-4321-210987654321", EventID: "468fa2ea-1a5f-4a8c-9b5a-9a2ed8bdbd93",
			Departure: termination.Departure{InstanceID: "i-1234567890abcdef0", Group: "my-asg", Hook: "my-lifecycle-hook",
				Cause: termination.CauseUnknown, NoticedAt: at}}}},
		{"health scheduled change, two instances", awsHealth, []termination.Notice{health("i-abcd1111"), health("i-abcd2222")}},
		{"health scheduled change named by resources only", strings.Replace(awsHealth,
			`"affectedEntities":[{"entityValue":"i-abcd1111"},{"entityValue":"i-abcd2222"}]`, `"affectedEntities":[]`, 1),
			[]termination.Notice{health("i-abcd1111"), health("i-abcd2222")}},
		{"health start time in RFC 3339", strings.Replace(awsHealth, `"startTime":"Sun, 15 Jun 2025 12:00:00 GMT"`,
			`"startTime":"2025-06-15T12:00:00Z"`, 1), []termination.Notice{health("i-abcd1111"), health("i-abcd2222")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		unsupported bool
		wants       []string
	}{
		{name: "not JSON", body: "hello", wants: []string{"not an EventBridge event"}},
		{name: "no source", body: `{"id":"x","detail-type":"EC2 Spot Instance Interruption Warning"}`, wants: []string{`source ""`, "required"}},
		{name: "bad time", body: strings.Replace(awsSpotWarning, "2025-06-01T12:00:00Z", "yesterday", 1), wants: []string{`time "yesterday"`}},
		{name: "no detail", body: `{"id":"x","source":"aws.ec2","detail-type":"EC2 Instance Rebalance Recommendation","time":"2025-06-01T12:00:00Z"}`,
			wants: []string{"no detail"}},
		{name: "spot without instance id", body: strings.Replace(awsSpotWarning, `"instance-id":"i-1234567890abcdef0",`, "", 1),
			wants: []string{"detail.instance-id", "not an instance id"}},
		{name: "bad spot action time", body: strings.Replace(awsSpotWarning, `"instance-action":"terminate"`, `"time":"soon"`, 1),
			wants: []string{`detail.time "soon"`}},
		{name: "state change without state", body: strings.Replace(awsStateChange, `,"state":"shutting-down"`, "", 1),
			wants: []string{"detail.state is missing"}},
		{name: "lifecycle action without token or instance", body: strings.NewReplacer(`"LifecycleActionToken":"87654321-4321-4321-4321-210987654321",`, "",
			`"EC2InstanceId":"i-1234567890abcdef0",`, "").Replace(awsTerminateAction),
			wants: []string{"detail.EC2InstanceId", "detail.LifecycleActionToken is missing"}},
		{name: "lifecycle action of a launch hook", body: strings.Replace(awsTerminateAction, "EC2_INSTANCE_TERMINATING", "EC2_INSTANCE_LAUNCHING", 1),
			wants: []string{"LifecycleTransition"}},
		{name: "health without instances", body: strings.NewReplacer(`"affectedEntities":[{"entityValue":"i-abcd1111"},{"entityValue":"i-abcd2222"}]`,
			`"affectedEntities":[{"entityValue":"vol-1234"}]`, `"resources":["i-abcd1111","i-abcd2222"]`, `"resources":[]`).Replace(awsHealth),
			wants: []string{"names no instance"}},
		{name: "health with a bad start", body: strings.Replace(awsHealth, "Sun, 15 Jun 2025 12:00:00 GMT", "mid-June", 1),
			wants: []string{`detail.startTime "mid-June"`}},
		{name: "unknown detail type", body: strings.Replace(awsSpotWarning, "EC2 Spot Instance Interruption Warning", "EC2 Fleet Spot Instance Request", 1),
			unsupported: true, wants: []string{`"EC2 Fleet Spot Instance Request"`}},
		{name: "unknown source", body: strings.Replace(awsRebalance, `"aws.ec2"`, `"my.app"`, 1), unsupported: true, wants: []string{"my.app"}},
		{name: "launch lifecycle action", body: strings.Replace(awsTerminateAction, "Instance-terminate", "Instance-launch", 1), unsupported: true},
		{name: "health issue", body: strings.Replace(awsHealth, `"scheduledChange"`, `"issue"`, 1), unsupported: true, wants: []string{`"issue"`}},
		{name: "health of another service", body: strings.Replace(awsHealth, `"service":"EC2"`, `"service":"RDS"`, 1), unsupported: true},
		{name: "closed health event", body: strings.Replace(awsHealth, `"upcoming"`, `"closed"`, 1), unsupported: true, wants: []string{"closed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", got)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Fatalf("Parse: %v; unsupported = %v, want %v", err, !tt.unsupported, tt.unsupported)
			}
			for _, w := range append(tt.wants, "parse event") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestIsInstanceID(t *testing.T) {
	for s, want := range map[string]bool{"i-abcd1111": true, "i-1234567890abcdef0": true, "i-0123456789abcdef01": false,
		"i-abc": false, "i-ABCD1111": false, "vol-abcd1111": false, "": false} {
		if got := isInstanceID(s); got != want {
			t.Errorf("isInstanceID(%q) = %v", s, got)
		}
	}
}
