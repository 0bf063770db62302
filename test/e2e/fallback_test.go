package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestCapacityFallback is issue 15's `kelp up --cloud-launch-failure
// 'm5.large=1.0'`: the general pool's only type fails everywhere and the
// pool sits at its min size 1, so its target cannot be lowered. Its missing
// node is not capacity on its way: once general's failure is seen, 6
// pending pods of 500m with no node selector all go to the spot pool in
// one scale-up, and run. The spot pool skips m5.large too (the local cloud
// records a failed activity and launches another type), which must not
// back it off: a second burst scales spot again.
func TestCapacityFallback(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	const name = "fb"
	cfg := localup.Config{
		Dir: filepath.Join(t.TempDir(), name), Name: name,
		Pools: &pool.Config{Pools: []pool.Spec{
			{Name: "general", InstanceTypes: []string{"m5.large"}, CapacityType: catalog.CapacityTypeOnDemand, MinSize: 1, MaxSize: 20},
			{Name: "spot", InstanceTypes: []string{"m5.large", "m6i.large", "m5.xlarge", "m6i.xlarge"}, CapacityType: catalog.CapacityTypeSpot,
				MinSize: 0, MaxSize: 20, Labels: map[string]string{"kelp.dev/workload": "batch"}},
		}},
		Faults:     localcloud.Faults{LaunchFailures: []localcloud.LaunchFailure{{InstanceType: "m5.large", Rate: 1}}},
		Controller: controller.Options{Autoscaler: &loop.Options{ScanInterval: 2 * time.Second}},
	}
	cluster, client := startLocal(t, cfg)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	desired := desiredOf(t, ctx, cluster, name)
	general, spot := pool.GroupName(name, "general"), pool.GroupName(name, "spot")

	// general's failure is seen: backed off, and its missing node at min
	// size is not upcoming.
	testenv.EventuallyTrue(t, time.Minute, "general backed off", func() bool {
		p, ok := poolStatus(ctx, client, general)
		return ok && p.Backoff != nil && p.TargetSize == 1
	})
	if p, _ := poolStatus(ctx, client, general); p.Upcoming != 0 {
		t.Fatalf("general, backed off at min size with no instance, shows %d upcoming, want 0", p.Upcoming)
	}

	start := time.Now()
	createDeployment(t, ctx, client, "first", 6, "500m", nil, nil)
	testenv.EventuallyTrue(t, 30*time.Second, "spot's desired capacity raised", func() bool { return desired("spot") > 0 })
	t.Logf("6 pending pods -> spot SetDesiredCapacity in %s", time.Since(start).Round(time.Millisecond))
	// One scale-up took every pod: none was left waiting on general's
	// phantom node.
	testenv.EventuallyTrue(t, 10*time.Second, "status records the scale-up", func() bool {
		return scaleUpPods(ctx, client, spot) > 0
	})
	if n := scaleUpPods(ctx, client, spot); n != 6 {
		t.Fatalf("spot's scale-up planned %d pods, want all 6", n)
	}
	testenv.EventuallyTrue(t, time.Minute, "6 pods Running", func() bool { return runningPods(ctx, client, "app=first") == 6 })
	t.Logf("6 pods Running %s after creation; spot skipped m5.large %d time(s)", time.Since(start).Round(time.Millisecond),
		failedActivities(t, ctx, cluster, spot))

	after := desired("spot")
	start = time.Now()
	createDeployment(t, ctx, client, "second", 6, "500m", nil, nil)
	testenv.EventuallyTrue(t, 30*time.Second, "spot scaled again", func() bool { return desired("spot") > after })
	testenv.EventuallyTrue(t, time.Minute, "6 more pods Running", func() bool { return runningPods(ctx, client, "app=second") == 6 })
	t.Logf("second burst Running in %s", time.Since(start).Round(time.Millisecond))
	if p, _ := poolStatus(ctx, client, spot); p.Backoff != nil {
		t.Fatalf("spot backed off: %s", p.Backoff.Reason)
	}
	if d := desired("general"); d != 1 {
		t.Fatalf("general desired %d, want its min size 1", d)
	}
}

// autoscalerStatus reads the autoscaler's status ConfigMap; ok is false
// while it is missing or unreadable.
func autoscalerStatus(ctx context.Context, client kubernetes.Interface) (autoscaler.Status, bool) {
	var st autoscaler.Status
	cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, loop.StatusConfigMap, metav1.GetOptions{})
	if err != nil || yaml.Unmarshal([]byte(cm.Data["status"]), &st) != nil {
		return st, false
	}
	return st, true
}

// poolStatus returns the status of the group called group.
func poolStatus(ctx context.Context, client kubernetes.Interface, group string) (autoscaler.PoolStatus, bool) {
	st, ok := autoscalerStatus(ctx, client)
	if !ok {
		return autoscaler.PoolStatus{}, false
	}
	for _, p := range st.Pools {
		if p.Group == group {
			return p, true
		}
	}
	return autoscaler.PoolStatus{}, false
}

// scaleUpPods counts the pods of the last scale-up's increases of group.
func scaleUpPods(ctx context.Context, client kubernetes.Interface, group string) int {
	st, ok := autoscalerStatus(ctx, client)
	if !ok || st.LastScaleUp == nil {
		return 0
	}
	n := 0
	for _, inc := range st.LastScaleUp.Increases {
		if inc.Group == group {
			n += inc.Pods
		}
	}
	return n
}

// failedActivities counts the group's failed scaling activities.
func failedActivities(t *testing.T, ctx context.Context, cluster *localup.Cluster, group string) int {
	t.Helper()
	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := autoscaling.NewFromConfig(awsCfg).DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: aws.String(group)})
	if err != nil {
		t.Fatalf("describe activities of %s: %v", group, err)
	}
	n := 0
	for _, a := range out.Activities {
		if a.StatusCode == "Failed" {
			n++
		}
	}
	return n
}
