package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// spotNotice is the local cloud's spot interruption notice in
// TestSpotInterruptionDrainsBeforeTheDeadline: short, yet longer than
// kelp's deadline margin (15 s) plus the pods' grace period (5 s).
const spotNotice = 40 * time.Second

// TestSpotInterruptionDrainsBeforeTheDeadline interrupts the spot node of
// a local cluster as `kelp up` builds it (every pool with the kelp-drain
// hook, the interruption queue consumed by the controller) with a 40 s
// notice: the Node is cordoned and tainted, each of its three pods is
// evicted through the Eviction API while the instance still runs, the
// Deployment is whole again on another node before the deadline, the
// interruption queue delivered the warning (the Node's departure cause,
// the controller's metrics), the Node carries kelp's Event naming the
// spot interruption, and then the instance terminates and its Node is
// gone.
func TestSpotInterruptionDrainsBeforeTheDeadline(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	probe := freeAddr(t)
	cfg := localup.Config{
		Dir: filepath.Join(t.TempDir(), "spot"), Name: "spot",
		Pools: &pool.Config{Pools: []pool.Spec{
			{Name: "spot", InstanceTypes: []string{"m5.large"}, CapacityType: catalog.CapacityTypeSpot, MinSize: 1, MaxSize: 2},
			{Name: "steady", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 2},
		}},
		Faults:     localcloud.Faults{SpotInterruption: localcloud.SpotInterruption{Notice: localcloud.Duration{Duration: spotNotice}}},
		Controller: controller.Options{ProbeAddr: probe},
	}
	cluster, client := startLocal(t, cfg)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if cluster.InterruptionQueueURL() == "" {
		t.Fatal("kelp up set no interruption queue up for the controller")
	}
	spotNode, steadyNode := onePoolNode(t, ctx, client, "spot"), onePoolNode(t, ctx, client, "steady")

	// The pods start on the spot node: the other one is cordoned meanwhile.
	setUnschedulable(t, ctx, client, steadyNode.Name, true)
	createDeploymentWith(t, ctx, client, "spotty", 3, "100m", func(s *corev1.PodTemplateSpec) {
		s.Spec.TerminationGracePeriodSeconds = aws.Int64(5)
	})
	testenv.EventuallyTrue(t, 2*time.Minute, "3 spotty pods Ready on the spot node", func() bool {
		return len(readyPodsOn(ctx, client, "app=spotty", spotNode.Name)) == 3
	})
	setUnschedulable(t, ctx, client, steadyNode.Name, false)
	old := readyPodsOn(ctx, client, "app=spotty", spotNode.Name)

	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(awsCfg)
	id := instanceIDOf(t, spotNode)
	w := watchDeparture(t, ctx, client, spotNode.Name, "app=spotty", func(ctx context.Context) string { return instanceState(ctx, ec2c, id) })

	noticed := time.Now()
	if err := cluster.Cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	// The cloud stamps its deadline just after noticed: this one is no
	// later.
	deadline := noticed.Add(spotNotice)
	testenv.EventuallyTrue(t, time.Until(deadline), "3 spotty pods Ready elsewhere and none left on the spot node, before the deadline", func() bool {
		return len(readyPodsOn(ctx, client, "app=spotty", "!"+spotNode.Name)) == 3 && len(podsMatchingOn(ctx, client, "app=spotty", spotNode.Name)) == 0
	})
	drained := time.Since(noticed)
	w.check(t, old, termination.CauseSpotInterruption, deadline)

	testenv.EventuallyTrue(t, time.Until(deadline)+30*time.Second, "the spot instance terminated and its Node gone", func() bool {
		_, err := client.CoreV1().Nodes().Get(ctx, spotNode.Name, metav1.GetOptions{})
		return err != nil && instanceState(ctx, ec2c, id) == string(ec2types.InstanceStateNameTerminated)
	})
	gone := time.Since(noticed)
	checkSpotEvent(t, ctx, client, spotNode.Name, id)
	checkQueueDelivered(t, ctx, probe)
	t.Logf("spot notice %s: Node cordoned after %s, 3 pods Ready elsewhere after %s, instance terminated and Node gone after %s",
		spotNotice, w.cordonedAfter(noticed).Round(time.Millisecond), drained.Round(time.Millisecond), gone.Round(time.Millisecond))
}

// checkSpotEvent fails unless the Node has an Event from kelp's
// controller naming the spot interruption of its instance.
func checkSpotEvent(t *testing.T, ctx context.Context, client kubernetes.Interface, node, id string) {
	t.Helper()
	var msgs []string
	testenv.EventuallyTrue(t, 30*time.Second, "an Event from kelp on the spot Node naming the interruption", func() bool {
		evs, err := client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(
			fields.OneTermEqualSelector("involvedObject.kind", "Node"),
			fields.OneTermEqualSelector("involvedObject.name", node)).String()})
		if err != nil {
			return false
		}
		msgs = msgs[:0]
		for _, e := range evs.Items {
			msgs = append(msgs, e.Source.Component+" "+e.Reason+": "+e.Message)
			if e.Source.Component == "kelp-controller" && strings.Contains(e.Message, "spot interruption") && strings.Contains(e.Message, id) {
				return true
			}
		}
		return false
	})
	t.Logf("events of node %s:\n%s", node, strings.Join(msgs, "\n"))
}

// checkQueueDelivered fails unless the controller's metrics show that the
// interruption queue delivered a warning the drain controller accepted.
func checkQueueDelivered(t *testing.T, ctx context.Context, probe string) {
	t.Helper()
	text := scrape(t, ctx, probe)
	for _, series := range []string{
		`kelp_interruption_messages_total{kind="warning",outcome="handled"}`,
		`kelp_drain_notices_total{kind="warning",outcome="accepted"}`,
	} {
		if metricValue(text, series) < 1 {
			t.Errorf("%s is not at least 1: the interruption queue did not deliver the spot warning; kelp's metrics:\n%s", series, metricLines(text, "kelp_"))
		}
	}
}
