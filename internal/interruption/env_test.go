package interruption

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// waitTimeout bounds every wait for the local cloud.
const waitTimeout = 15 * time.Second

var ctx = context.Background()

func testLogger() *slog.Logger {
	if os.Getenv("KELP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a local cloud on a fake clock, served on 127.0.0.1, with SDK
// clients pointed at it as the composition roots build them.
type env struct {
	t     *testing.T
	cloud *localcloud.Cloud
	clock *clocktesting.FakeClock
	sqs   *sqs.Client
	eb    *eventbridge.Client
	as    *autoscaling.Client
	ec2   *ec2.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: clocktesting.NewFakeClock(at)}
	c, err := localcloud.Open(localcloud.Options{Dir: t.TempDir(), Clock: e.clock, Rand: rand.NewPCG(3, 5), Logger: testLogger()})
	if err != nil {
		t.Fatalf("open local cloud: %v", err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start local cloud: %v", err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() {
		srv.Close()
		if err := c.Close(); err != nil {
			t.Errorf("close local cloud: %v", err)
		}
	})
	e.cloud = c
	cfg := sdkaws.Config{Region: localcloud.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")}
	e.sqs = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	e.eb = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	e.as = autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	e.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	return e
}

// spotGroup creates a group of one spot instance with kelp's drain hook
// and returns the instance's id once it is in service.
func (e *env) spotGroup(name string) string {
	e.t.Helper()
	_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: sdkaws.String(name), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: sdkaws.String(localcloud.ImageLocalNode), InstanceType: ec2types.InstanceTypeM5Large,
			InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}}})
	if err != nil {
		e.t.Fatalf("create launch template: %v", err)
	}
	if _, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: sdkaws.String(name), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: sdkaws.String(name)},
		MinSize: sdkaws.Int32(0), MaxSize: sdkaws.Int32(1), DesiredCapacity: sdkaws.Int32(1), AvailabilityZones: []string{"us-east-1a"}}); err != nil {
		e.t.Fatalf("create group: %v", err)
	}
	if _, err := e.as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: sdkaws.String(name),
		LifecycleHookName: sdkaws.String("kelp-drain"), HeartbeatTimeout: sdkaws.Int32(300),
		LifecycleTransition: sdkaws.String("autoscaling:EC2_INSTANCE_TERMINATING")}); err != nil {
		e.t.Fatalf("put lifecycle hook: %v", err)
	}
	var id string
	testenv.EventuallyTrue(e.t, waitTimeout, name+" in service", func() bool {
		out, err := e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil || len(out.AutoScalingGroups) != 1 || len(out.AutoScalingGroups[0].Instances) != 1 {
			return false
		}
		i := out.AutoScalingGroups[0].Instances[0]
		id = sdkaws.ToString(i.InstanceId)
		return i.LifecycleState == astypes.LifecycleStateInService
	})
	return id
}

// counts returns the queue's visible and in-flight message counts.
func (e *env) counts(url string) (visible, inFlight string) {
	e.t.Helper()
	out, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: sdkaws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		e.t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}
