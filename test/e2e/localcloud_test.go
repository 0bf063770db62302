// Package e2e runs kelp end to end on a local cluster: control plane,
// local cloud, node agents and pools, driven through the AWS SDK and the
// Kubernetes API as a user would.
package e2e

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

const e2ePool = "e2e"

// e2eConfig is the local cluster of TestDesiredCapacityDrivesNodes.
func e2eConfig(dir string) localup.Config {
	return localup.Config{
		Dir: dir, Name: "e2e",
		Pools: &pool.Config{Pools: []pool.Spec{{Name: e2ePool, InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 5}}},
	}
}

// startLocal starts a local cluster with test settings (no fsync, a 1 s
// cloud reconcile) and returns it with an admin client.
func startLocal(t testing.TB, cfg localup.Config) (*localup.Cluster, kubernetes.Interface) {
	t.Helper()
	cfg.UnsafeNoFsync, cfg.StartTimeout, cfg.CloudReconcileInterval = true, 3*time.Minute, time.Second
	c, err := localup.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := c.ControlPlane.AdminRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c, kubernetes.NewForConfigOrDie(rest)
}

func readyNodes(ctx context.Context, client kubernetes.Interface) (ready, notReady []string, err error) {
	return readyNodesOf(ctx, client, e2ePool)
}

func readyNodesOf(ctx context.Context, client kubernetes.Interface, poolName string) (ready, notReady []string, err error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag + "=" + poolName})
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nodes.Items {
		isReady := false
		for _, c := range n.Status.Conditions {
			isReady = isReady || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if isReady {
			ready = append(ready, n.Name)
		} else {
			notReady = append(notReady, n.Name)
		}
	}
	return ready, notReady, nil
}

func instanceStates(ctx context.Context, t *testing.T, client *ec2.Client) map[string]ec2types.InstanceStateName {
	t.Helper()
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + pool.PoolTag), Values: []string{e2ePool}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]ec2types.InstanceStateName{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			states[aws.ToString(i.InstanceId)] = i.State.Name
		}
	}
	return states
}

// TestDesiredCapacityDrivesNodes sets a group's desired capacity 0 → 3 → 1
// with no human in the loop: kelp's approver admits the three nodes, node
// lifecycle removes the two whose instances terminated, and after a restart
// the surviving instance comes back under the same id. Forged CSRs are
// TestApproverOnlyDecidesItsOwn's.
func TestDesiredCapacityDrivesNodes(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	dir := filepath.Join(t.TempDir(), "e2e")
	cluster, client := startLocal(t, e2eConfig(dir))
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as, ec2c := autoscaling.NewFromConfig(awsCfg), ec2.NewFromConfig(awsCfg)
	group := pool.GroupName("e2e", e2ePool)
	setDesired := func(n int32) {
		t.Helper()
		if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(n), HonorCooldown: aws.Bool(false)}); err != nil {
			t.Fatal(err)
		}
	}

	setDesired(3)
	start := time.Now()
	testenv.EventuallyTrue(t, 3*time.Minute, "3 Ready nodes", func() bool {
		ready, _, err := readyNodes(ctx, client)
		return err == nil && len(ready) == 3
	})
	t.Logf("desired 0 -> 3: 3 nodes Ready after %s", time.Since(start).Round(time.Millisecond))

	setDesired(1)
	testenv.EventuallyTrue(t, 2*time.Minute, "2 instances terminated", func() bool {
		terminated := 0
		for _, s := range instanceStates(ctx, t, ec2c) {
			if s == ec2types.InstanceStateNameTerminated {
				terminated++
			}
		}
		return terminated == 2
	})
	// Node lifecycle deletes the Nodes of the terminated instances.
	testenv.EventuallyTrue(t, time.Minute, "the 2 Nodes of terminated instances deleted", func() bool {
		ready, notReady, err := readyNodes(ctx, client)
		return err == nil && len(ready) == 1 && len(notReady) == 0
	})

	var survivor string
	for id, s := range instanceStates(ctx, t, ec2c) {
		if s == ec2types.InstanceStateNameRunning {
			survivor = id
		}
	}
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	cluster, client = startLocal(t, e2eConfig(dir))
	awsCfg, err = cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec2c = ec2.NewFromConfig(awsCfg)
	var running []string
	for id, s := range instanceStates(ctx, t, ec2c) {
		if s == ec2types.InstanceStateNameRunning || s == ec2types.InstanceStateNamePending {
			running = append(running, id)
		}
	}
	sort.Strings(running)
	if len(running) != 1 || running[0] != survivor {
		t.Fatalf("after restart running instances are %v, want [%s]", running, survivor)
	}
	// The agent comes back with its certificate (no new approval) and
	// renews its Lease again.
	testenv.EventuallyTrue(t, 2*time.Minute, "the surviving node's Lease renewed after the restart", func() bool {
		ready, _, err := readyNodes(ctx, client)
		if err != nil || len(ready) != 1 {
			return false
		}
		lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, ready[0], metav1.GetOptions{})
		return err == nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(restarted)
	})
}
