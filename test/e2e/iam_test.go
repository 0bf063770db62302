package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cli"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// docPolicy is the JSON document under the heading of docs/aws.md that
// starts with heading, with the placeholders replaced for a local cluster.
func docPolicy(t *testing.T, heading, cluster string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "aws.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "\n"+heading)
	if !ok {
		t.Fatalf("docs/aws.md has no heading %q", heading)
	}
	_, block, ok := strings.Cut(after, "```json\n")
	if !ok {
		t.Fatalf("docs/aws.md: no JSON block after %q", heading)
	}
	block, _, _ = strings.Cut(block, "```")
	return strings.NewReplacer("CLUSTER", cluster, "REGION", localcloud.DefaultRegion, "ACCOUNT", localcloud.AccountID,
		"QUEUE", localup.InterruptionQueueName).Replace(block)
}

// docPrincipal is a caller of the local cloud under one of docs/aws.md's
// policies.
func docPrincipal(t *testing.T, name, key, heading, cluster string) localcloud.Principal {
	t.Helper()
	p, err := localcloud.ParsePolicy("docs/aws.md "+heading, docPolicy(t, heading, cluster), nil)
	if err != nil {
		t.Fatal(err)
	}
	return localcloud.Principal{Name: name, ARN: "arn:aws:iam::" + localcloud.AccountID + ":user/" + name,
		AccessKeyID: key, SecretAccessKey: name + "-secret", Authorizer: localcloud.Policies{p}}
}

// decisions wraps a principal's Authorizer and records its rulings: the
// actions it allowed and those it refused.
type decisions struct {
	inner   localcloud.Authorizer
	mu      sync.Mutex
	allowed map[string]bool
	refused []string
}

func (d *decisions) Authorize(a localcloud.Access) error {
	err := d.inner.Authorize(a)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.refused = append(d.refused, err.Error())
	} else {
		d.allowed[a.Service+":"+a.Action] = true
	}
	return err
}

// record has p's rulings recorded.
func record(p *localcloud.Principal) *decisions {
	d := &decisions{inner: p.Authorizer, allowed: map[string]bool{}}
	p.Authorizer = d
	return d
}

// check fails the test if any call was refused or an action in want was
// never allowed.
func (d *decisions) check(t *testing.T, who string, want ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.refused) > 0 {
		t.Errorf("the %s's calls refused under the documented policy:\n%s", who, strings.Join(d.refused, "\n"))
	}
	for _, a := range want {
		if !d.allowed[a] {
			t.Errorf("the %s never made %s", who, a)
		}
	}
}

// TestIAMPoliciesOfTheDocs runs kelp under the two policies of docs/aws.md,
// as the local cloud enforces them: the operator creates, updates, scales
// and deletes a pool, puts the drain hook on an adopted group and checks
// the interruption queue; the controller, with its own keys, approves the
// joins, scales the pool up and down (drain hook answered), scales a group
// adopted through cluster-autoscaler's discovery tags, rotates tokens and
// consumes the interruption queue. None of their calls is refused; calls
// outside the policies are, with the action named.
func TestIAMPoliciesOfTheDocs(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const name = "iam"
	operator := docPrincipal(t, "operator", "AKIAOPERATOR00000000", "### The operator", name)
	ctrl := docPrincipal(t, "controller", "AKIACONTROLLER000000", "### The controller", name)
	operatorCalls, ctrlCalls := record(&operator), record(&ctrl)
	cluster, client := startLocal(t, localup.Config{Dir: filepath.Join(t.TempDir(), name), Name: name,
		Pools: &pool.Config{}, NoController: true, CloudPrincipals: []localcloud.Principal{operator, ctrl}})
	defer func() { _ = cluster.Stop(context.Background()) }()
	root, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adoptedGroup(t, ctx, root, name)
	runControllerAs(t, ctx, cluster, client, ctrl, name)

	t.Setenv("AWS_ACCESS_KEY_ID", operator.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", operator.SecretAccessKey)
	t.Setenv("AWS_REGION", localcloud.DefaultRegion)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	kelp := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root := cli.NewRoot("e2e")
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append(args, "--endpoint", cluster.CloudURL(), "--kubeconfig", cluster.ControlPlane.AdminKubeconfigPath()))
		err := root.ExecuteContext(ctx)
		return out.String() + errOut.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := kelp(append(args, "--cluster-name", name)...)
		if err != nil {
			t.Fatalf("kelp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	desired := desiredOf(t, ctx, cluster, name)

	start := time.Now()
	must("pool", "create", "general", "--instance-types", "m5.large", "--min", "0", "--max", "3")
	createDeployment(t, ctx, client, "web", 1, "1", map[string]string{pool.PoolTag: "general"}, nil)
	testenv.EventuallyTrue(t, 3*time.Minute, "the controller scaled the pool up and approved the node's join", func() bool {
		return runningPods(ctx, client, "app=web") == 1
	})
	must("pool", "update", "general", "--max", "4")
	must("pool", "scale", "general", "2")
	must("pool", "list")
	must("pool", "describe", "general")
	must("pool", "roll", "general")
	must("pool", "roll", "general", "--status")
	t.Logf("%s: pool created, scaled up by the controller, updated, scaled", time.Since(start).Round(time.Second))
	if err := client.AppsV1().Deployments("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, 3*time.Minute, "the controller scaled the idle pool down through the drain hook", func() bool {
		return desired("general") == 0
	})
	// The adopted group's instance boots without kelp's user-data: its
	// node never joins; that the group grew is what counts here.
	createDeployment(t, ctx, client, "adopted", 1, "100m", map[string]string{"kelp.dev/workload": "adopted"}, nil)
	testenv.EventuallyTrue(t, 2*time.Minute, "the controller scaled the adopted group up", func() bool {
		return groupActivities(t, ctx, root, adoptedName) > 0
	})
	if err := client.AppsV1().Deployments("default").Delete(ctx, "adopted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: scaled down, adopted group scaled up", time.Since(start).Round(time.Second))
	identityPool(t, ctx, cluster, client, must)
	must("pool", "adopt-hook", adoptedName)
	must("pool", "interruption-queue", "create", localup.InterruptionQueueName)
	must("pool", "interruption-queue", "show", localup.InterruptionQueueName)
	must("pool", "delete", "general", "--force")

	testenv.EventuallyTrue(t, time.Minute, "the controller rotated the pool's token into its launch template", func() bool {
		ctrlCalls.mu.Lock()
		defer ctrlCalls.mu.Unlock()
		return ctrlCalls.allowed["ec2:CreateLaunchTemplateVersion"]
	})
	ctrlCalls.check(t, "controller", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
		"autoscaling:CompleteLifecycleAction", "ec2:DescribeInstances", "sqs:ReceiveMessage")
	operatorCalls.check(t, "operator", "autoscaling:CreateAutoScalingGroup", "ec2:CreateLaunchTemplate", "ec2:CreateTags",
		"ec2:RunInstances", "autoscaling:UpdateAutoScalingGroup", "autoscaling:SetDesiredCapacity", "autoscaling:PutLifecycleHook",
		"autoscaling:DeleteAutoScalingGroup", "ec2:DeleteLaunchTemplate", "autoscaling:StartInstanceRefresh",
		"sqs:CreateQueue", "sqs:SetQueueAttributes", "events:PutRule", "events:PutTargets", "events:DescribeRule",
		"iam:PassRole", "iam:GetInstanceProfile")
	ctrlCalls.check(t, "controller", "iam:GetInstanceProfile")
	must("pool", "interruption-queue", "delete", localup.InterruptionQueueName)
	operatorCalls.check(t, "operator", "sqs:DeleteQueue", "events:DeleteRule", "events:RemoveTargets")
	t.Logf("the operator's actions: %v", slices.Sorted(maps.Keys(operatorCalls.allowed)))
	t.Logf("the controller's actions: %v", slices.Sorted(maps.Keys(ctrlCalls.allowed)))

	// Outside the policies: another cluster's pool, an untagged group.
	_, err = kelp("pool", "create", "general", "--instance-types", "m5.large", "--max", "1", "--cluster-name", "other")
	testenv.ErrorContains(t, err, "UnauthorizedOperation", "User: "+operator.ARN+" is not authorized to perform: ec2:CreateLaunchTemplate",
		"because no identity-based policy allows the ec2:CreateLaunchTemplate action")
	as := autoscaling.NewFromConfig(root, func(o *autoscaling.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(ctrl.AccessKeyID, ctrl.SecretAccessKey, "")
	})
	_, err = as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(untaggedName), DesiredCapacity: aws.Int32(1)})
	testenv.ErrorContains(t, err, "AccessDenied", "User: "+ctrl.ARN+" is not authorized to perform: autoscaling:SetDesiredCapacity on resource: arn:aws:autoscaling:",
		"autoScalingGroupName/"+untaggedName)
}

// identityPool creates an identity-mode pool as the operator (the
// instance profile passed to EC2) and has the controller, under its
// policy, grow it and admit its node by the instance's proof.
func identityPool(t *testing.T, ctx context.Context, cluster *localup.Cluster, client kubernetes.Interface, must func(...string) string) {
	t.Helper()
	ij, err := cluster.IdentityJoin(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "join-ca.pem")
	if err := os.WriteFile(caFile, ij.EndpointCA, 0o600); err != nil {
		t.Fatal(err)
	}
	must("pool", "create", "secure", "--instance-types", "m5.large", "--min", "0", "--max", "1",
		"--join=identity", "--instance-profile", localup.NodeInstanceProfile, "--join-endpoint", ij.Endpoint,
		"--join-endpoint-ca", caFile, "--join-sts-endpoint", ij.STSEndpoint, "--join-imds-endpoint", ij.MetadataEndpoint)
	createDeployment(t, ctx, client, "secure", 1, "1", map[string]string{pool.PoolTag: "secure"}, nil)
	testenv.EventuallyTrue(t, 3*time.Minute, "the controller grew the identity pool and its instance joined by its proof", func() bool {
		return runningPods(ctx, client, "app=secure") == 1
	})
	if err := client.AppsV1().Deployments("default").Delete(ctx, "secure", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	must("pool", "delete", "secure", "--force")
}

const (
	adoptedName  = "workers-adopted"
	untaggedName = "workers-untagged"
)

// adoptedGroup creates, with the account's keys, a group kelp did not
// create, under another name, found through cluster-autoscaler's discovery
// tags and owned by the cluster, whose nodes are labelled
// kelp.dev/workload=adopted; and a group without any tag.
func adoptedGroup(t *testing.T, ctx context.Context, cfg aws.Config, cluster string) {
	t.Helper()
	ec := ec2.NewFromConfig(cfg)
	lt, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("adopted"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(localcloud.ImageLocalNode),
			InstanceType: ec2types.InstanceTypeM5Large, UserData: aws.String("I2Nsb3VkLWNvbmZpZwo=")}})
	if err != nil {
		t.Fatal(err)
	}
	tag := func(k, v string) astypes.Tag { return astypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	as := autoscaling.NewFromConfig(cfg)
	for name, tags := range map[string][]astypes.Tag{
		adoptedName: {tag(pool.ClusterTagPrefix+cluster, "owned"), tag(pool.AutoscalerEnabledTag, "true"),
			tag(pool.AutoscalerClusterTag+cluster, "owned"), tag(pool.NodeTemplateLabelTag+"kelp.dev/workload", "adopted")},
		untaggedName: nil,
	} {
		_, err = as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
			MinSize:        aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{localcloud.DefaultRegion + "a"}, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func groupActivities(t *testing.T, ctx context.Context, cfg aws.Config, group string) int {
	out, err := autoscaling.NewFromConfig(cfg).DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Activities)
}

// runControllerAs runs kelp's controllers with p's keys: the approver, the
// autoscaler (kelp's pools and groups with cluster-autoscaler's discovery
// tags, scale-down fast), the drain controller on the interruption queue
// and token rotation every second with tokens of 72 h (so the pool's
// token, of 24 h, is rotated at once).
func runControllerAs(t *testing.T, ctx context.Context, cluster *localup.Cluster, client kubernetes.Interface, p localcloud.Principal, name string) {
	t.Helper()
	creds := credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")
	logger := slog.New(slog.DiscardHandler)
	provider, err := awscloud.New(ctx, awscloud.Config{ClusterName: name, Region: localcloud.DefaultRegion, Endpoint: cluster.CloudURL(),
		AutoDiscovery: []string{"asg:tag=" + pool.AutoscalerEnabledTag + "," + pool.AutoscalerClusterTag + name}},
		awscloud.Deps{Credentials: creds, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awscloud.LoadSDKConfig(ctx, awscloud.SDKOptions{Region: localcloud.DefaultRegion, Endpoint: cluster.CloudURL(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	opts := controller.Options{ClusterName: name, Approve: approver.ModeAuto, TokenTTL: 72 * time.Hour, TokenRotationPeriod: time.Second,
		InterruptionQueue: cluster.InterruptionQueueURL(), Join: cluster.JoinOptions(),
		Autoscaler: &loop.Options{ScanInterval: 2 * time.Second, ScaleDownEnabled: true, ScaleDown: fastScaleDown()}}
	deps := controller.Deps{Client: client, Cloud: provider, Scaler: provider, Logger: logger,
		Pools:             pool.New(name, pool.Deps{Cloud: provider, Tokens: pool.KubeTokens{Client: client}}),
		InterruptionQueue: controller.SQSInterruptionQueue(cfg, logger), JoinSTSClient: cluster.JoinSTSClient()}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- controller.Run(runCtx, opts, deps) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
}
