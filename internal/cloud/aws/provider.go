package aws

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// AutoScalingAPI is the part of the Auto Scaling client the provider uses.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeAutoScalingInstances(context.Context, *autoscaling.DescribeAutoScalingInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
	DescribeScalingActivities(context.Context, *autoscaling.DescribeScalingActivitiesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error)
	SetDesiredCapacity(context.Context, *autoscaling.SetDesiredCapacityInput, ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	TerminateInstanceInAutoScalingGroup(context.Context, *autoscaling.TerminateInstanceInAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
	// The pool provisioner's (pools.go).
	CreateAutoScalingGroup(context.Context, *autoscaling.CreateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	DeleteAutoScalingGroup(context.Context, *autoscaling.DeleteAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
	// Lifecycle hooks (lifecycle.go): the provisioner's and the drain's.
	PutLifecycleHook(context.Context, *autoscaling.PutLifecycleHookInput, ...func(*autoscaling.Options)) (*autoscaling.PutLifecycleHookOutput, error)
	DescribeLifecycleHooks(context.Context, *autoscaling.DescribeLifecycleHooksInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error)
	DeleteLifecycleHook(context.Context, *autoscaling.DeleteLifecycleHookInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteLifecycleHookOutput, error)
	CompleteLifecycleAction(context.Context, *autoscaling.CompleteLifecycleActionInput, ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	RecordLifecycleActionHeartbeat(context.Context, *autoscaling.RecordLifecycleActionHeartbeatInput, ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
	// Instance refresh (instancerefresh.go): kelp pool roll.
	StartInstanceRefresh(context.Context, *autoscaling.StartInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.StartInstanceRefreshOutput, error)
	DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error)
	CancelInstanceRefresh(context.Context, *autoscaling.CancelInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.CancelInstanceRefreshOutput, error)
}

// EC2API is the part of the EC2 client the provider uses.
type EC2API interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	DescribeSpotPriceHistory(context.Context, *ec2.DescribeSpotPriceHistoryInput, ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error)
	// The pool provisioner's (pools.go, launchtemplates.go).
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	CreateLaunchTemplate(context.Context, *ec2.CreateLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
	CreateLaunchTemplateVersion(context.Context, *ec2.CreateLaunchTemplateVersionInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
	DeleteLaunchTemplate(context.Context, *ec2.DeleteLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
}

var (
	_ AutoScalingAPI = (*autoscaling.Client)(nil)
	_ EC2API         = (*ec2.Client)(nil)

	_ cloud.Provider = (*Provider)(nil)
	_ cloud.Scaler   = (*Provider)(nil)
)

// Deps are the provider's collaborators; every field is optional.
type Deps struct {
	// AutoScaling and EC2 replace the SDK clients (a test's fakes). When
	// either is nil, both missing ones are built from the SDK's default
	// configuration with Config's region, endpoint and retryer.
	AutoScaling AutoScalingAPI
	EC2         EC2API
	// IAM replaces the SDK's IAM client (InstanceProfileRoles); built with
	// the others when they are built, else nil (InstanceProfileRoles fails).
	IAM IAMAPI
	// SDKConfig, when set, is the SDK config clients are built from (as
	// is: its region, endpoint, credentials and retryer; from
	// LoadSDKConfig). Otherwise LoadSDKConfig is called with Config's
	// region, endpoint and retry and the fields below.
	SDKConfig *sdkaws.Config
	// Credentials replace the SDK's default chain (static credentials of
	// the local cloud). Only used for clients built here.
	Credentials sdkaws.CredentialsProvider
	// HTTPClient replaces the SDK's HTTP client for clients built here.
	HTTPClient sdkaws.HTTPClient
	// Clock drives cache expiry, backoff and the activity lookback;
	// default the real clock.
	Clock clock.Clock
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Provider is kelp's cloud on AWS: Auto Scaling groups as node groups, EC2
// instances as nodes. It implements cloud.Provider and cloud.Scaler and is
// safe for concurrent use.
type Provider struct {
	cfg       Config
	discovery []DiscoverySpec
	region    string
	as        AutoScalingAPI
	ec2       EC2API
	iam       IAMAPI
	clock     clock.Clock
	log       *slog.Logger

	types     typeCache
	prices    priceCache
	templates templateCache
	instances instanceCache
	profiles  profileCache

	refreshMu sync.Mutex // serializes Refresh
	vpcCache  vpcCache   // guarded by refreshMu

	mu         sync.Mutex // guards the fields below
	groups     []cloud.NodeGroup
	refreshed  bool
	skipped    map[string]bool      // discovered groups without the cluster tag
	vpcs       []string             // the managed groups' VPCs, sorted
	watermarks map[string]watermark // by group
	editSeq    uint64               // number of the last edit
	edits      []snapshotEdit       // Scaler changes a Refresh in flight may not have seen
}

// New validates cfg (all problems at once) and returns a provider. It does
// not call AWS: the first Refresh does.
func New(ctx context.Context, cfg Config, deps Deps) (*Provider, error) {
	cfg = cfg.WithDefaults()
	specs, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("configure aws provider: %w", err)
	}
	p := &Provider{cfg: cfg, discovery: specs, region: cfg.Region, as: deps.AutoScaling, ec2: deps.EC2, iam: deps.IAM,
		clock: deps.Clock, log: deps.Logger, watermarks: map[string]watermark{}}
	if p.clock == nil {
		p.clock = clock.RealClock{}
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("component", "cloud/aws", "cluster", cfg.ClusterName)
	p.types = typeCache{known: map[string]catalog.InstanceType{}}
	p.prices = priceCache{ttl: cfg.SpotPriceTTL, clock: p.clock, entries: map[string]priceEntry{}}
	p.templates = templateCache{entries: map[string]templateEntry{}}
	p.instances = newInstanceCache(cfg.InstanceCacheTTL, p.clock)
	p.profiles = profileCache{entries: map[string]cachedRoles{}}
	if p.as == nil || p.ec2 == nil {
		if err := p.buildClients(ctx, deps); err != nil {
			return nil, fmt.Errorf("configure aws provider: %w", err)
		}
	}
	return p, nil
}

// buildClients makes the missing SDK clients from deps.SDKConfig, or from
// LoadSDKConfig with Config's region, endpoint and retryer.
func (p *Provider) buildClients(ctx context.Context, deps Deps) error {
	var awsCfg sdkaws.Config
	if deps.SDKConfig != nil {
		awsCfg = deps.SDKConfig.Copy()
	} else {
		var err error
		awsCfg, err = LoadSDKConfig(ctx, SDKOptions{Region: p.cfg.Region, Endpoint: p.cfg.Endpoint,
			Credentials: deps.Credentials, HTTPClient: deps.HTTPClient, Retry: p.cfg.Retry})
		if err != nil {
			return err
		}
	}
	if awsCfg.Region == "" {
		return fmt.Errorf("%s: not set, and the SDK found none (AWS_REGION, AWS_DEFAULT_REGION or the shared config)", "Region")
	}
	p.region = awsCfg.Region
	if p.as == nil {
		p.as = autoscaling.NewFromConfig(awsCfg)
	}
	if p.ec2 == nil {
		p.ec2 = ec2.NewFromConfig(awsCfg)
	}
	if p.iam == nil {
		p.iam = iam.NewFromConfig(awsCfg)
	}
	return nil
}

// call runs one API call under the per-call timeout, its error classified
// (see classify) but not wrapped: callers name the operation. A call that
// stayed throttled after the SDK's retries is tried again after kelp's own
// backoff (cloud.RetryThrottled, Retry.ThrottleRetries rounds).
func call[T any](ctx context.Context, p *Provider, op string, f func(context.Context) (T, error)) (T, error) {
	policy := cloud.ThrottleRetry{Rounds: p.cfg.Retry.ThrottleRetries, Backoff: p.cfg.Retry.ThrottleBackoff}
	return cloud.RetryThrottled(ctx, policy, p.clock, p.log, op, func(ctx context.Context) (T, error) {
		cctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
		defer cancel()
		out, err := f(cctx)
		return out, classify(err)
	})
}
