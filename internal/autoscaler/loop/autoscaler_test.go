package loop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestScaleUpOncePerPods(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10), testGroup(t, "big", "m5.4xlarge", 0, 10))
	h.pods("web", 6, "500m", nil)
	h.waitUnschedulable(6)

	c := h.runOnce()
	// 6×500m: two m5.large (1930m allocatable: 3 each) waste less than one
	// m5.4xlarge.
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"general=2"}) {
		t.Fatalf("scale-ups %v, want [general=2]; plan %+v", got, c.Plan)
	}
	ev := h.drainEvents()
	if got := matching(ev, ReasonTriggeredScaleUp, "general 0->2 (max: 10)"); len(got) != 6 {
		t.Fatalf("%d TriggeredScaleUp events, want one per pod: %v", len(got), ev)
	}

	// The nodes are upcoming: a second cycle must not scale again, nor
	// repeat the events.
	c = h.runOnce()
	if got := h.cloud.setCalls(); len(got) != 1 {
		t.Fatalf("second cycle scaled again: %v (plan %+v)", got, c.Plan)
	}
	if len(c.Plan.Placed) != 6 {
		t.Fatalf("second cycle placed %d pods on upcoming nodes, want 6", len(c.Plan.Placed))
	}
	if ev := h.drainEvents(); len(ev) != 0 {
		t.Fatalf("events repeated: %v", ev)
	}

	st := h.status()
	i := slices.IndexFunc(st.Pools, func(p autoscaler.PoolStatus) bool { return p.Group == "general" })
	if i < 0 || st.Pools[i].TargetSize != 2 || st.Pools[i].Upcoming != 2 || st.UnschedulablePods != 6 {
		t.Fatalf("status %+v", st)
	}
	if st.LastScaleUp == nil || st.LastScaleUp.Increases[0].Group != "general" || st.LastScaleUp.Increases[0].Delta != 2 {
		t.Fatalf("status last scale-up %+v", st.LastScaleUp)
	}
}

func TestPodThatFitsNoPool(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10))
	h.pods("huge", 1, "64", nil)
	h.pods("gpu", 1, "1", nil, "nvidia.com/gpu", "1")
	h.pods("picky", 1, "100m", map[string]string{"disktype": "ssd"})
	h.waitUnschedulable(3)

	c := h.runOnce()
	if got := h.cloud.setCalls(); len(got) != 0 {
		t.Fatalf("scaled up for pods that fit no pool: %v", got)
	}
	ev := h.drainEvents()
	for _, why := range []string{
		"general: Insufficient cpu",
		"general: Insufficient nvidia.com/gpu",
		"general: node(s) didn't match Pod's node affinity/selector",
	} {
		if got := matching(ev, ReasonNotTriggerScaleUp, why); len(got) != 1 {
			t.Errorf("want one NotTriggerScaleUp event naming %q, got %v (all: %v)", why, got, ev)
		}
	}
	if len(c.Plan.Unschedulable) != 3 {
		t.Fatalf("plan unschedulable %v", c.Plan.Unschedulable)
	}
}

func TestGPUPodGrowsOnlyGPUPool(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10), testGroup(t, "gpu", "g4dn.xlarge", 0, 4))
	h.pods("train", 1, "1", nil, "nvidia.com/gpu", "1")
	h.waitUnschedulable(1)
	h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"gpu=1"}) {
		t.Fatalf("scale-ups %v, want [gpu=1]", got)
	}
}

func TestFailedLaunchBacksOffAndReplans(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "cheap", "m5.large", 0, 10), testGroup(t, "other", "m6i.large", 0, 10))
	h.pods("web", 3, "500m", nil)
	h.waitUnschedulable(3)
	h.runOnce()
	first := h.cloud.setCalls()
	if len(first) != 1 {
		t.Fatalf("first scale-up %v", first)
	}
	grown, _, _ := strings.Cut(first[0], "=")
	other := map[string]string{"cheap": "other", "other": "cheap"}[grown]

	// The cloud reports the launch failed: the group is backed off, its
	// target lowered to what exists, and the pods go to the other group in
	// the same cycle.
	h.cloud.mu.Lock()
	h.cloud.launches = []cloud.GroupError{{Err: cloud.ErrInsufficientCapacity, Group: grown, Code: "InsufficientInstanceCapacity",
		Message: "no capacity", InstanceType: "m5.large", AvailabilityZone: testZone, ActivityID: "act-1", Time: h.clock.Now()}}
	h.cloud.mu.Unlock()
	c := h.runOnce()
	if _, ok := c.BackedOff[grown]; !ok {
		t.Fatalf("%s not backed off: %+v", grown, c.BackedOff)
	}
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{grown + "=1", grown + "=0", other + "=1"}) {
		t.Fatalf("scale calls %v, want [%s=1 %s=0 %s=1]", got, grown, grown, other)
	}
	st := h.status()
	i := slices.IndexFunc(st.Pools, func(p autoscaler.PoolStatus) bool { return p.Group == grown })
	if b := st.Pools[i].Backoff; b == nil || !strings.Contains(b.Reason, "no capacity") || b.Failures != 1 {
		t.Fatalf("status backoff of %s: %+v", grown, b)
	}

	// Every Refresh reports the failure again (level-triggered): it backs
	// the group off once.
	if c := h.runOnce(); c.BackedOff[grown] != "" {
		t.Fatalf("the same failed launch backed %s off again: %+v", grown, c.BackedOff)
	}
	if b := h.status().Pools[i].Backoff; b == nil || b.Failures != 1 {
		t.Fatalf("status backoff of %s after the failure was reported again: %+v", grown, b)
	}

	// Once the backoff ends the group may grow again.
	h.clock.Step(5*time.Minute + time.Second)
	if _, ok := h.a.backoffs.Active(h.clock.Now())[grown]; ok {
		t.Fatal("backoff still active after 5m")
	}
}

func TestRefusedScaleUpReplansInSameCycle(t *testing.T) {
	h := newHarness(t, Options{Expanders: "priority"}, testGroup(t, "first", "m5.large", 0, 10), testGroup(t, "second", "m5.large", 0, 10))
	h.priorities("10:\n  - first\n1:\n  - second\n")
	h.cloud.refuse["first"] = fmt.Errorf("set desired capacity: %w", cloud.ErrQuotaExceeded)
	h.pods("web", 2, "500m", nil)
	h.waitUnschedulable(2)
	c := h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"second=1"}) {
		t.Fatalf("scale calls %v, want [second=1] after first refused", got)
	}
	if !strings.Contains(c.BackedOff["first"], "quota exceeded") {
		t.Fatalf("backed off %v", c.BackedOff)
	}
}

func TestPriorityConfigMapReloads(t *testing.T) {
	h := newHarness(t, Options{Expanders: "priority,least-waste"}, testGroup(t, "a", "m5.large", 0, 10), testGroup(t, "b", "m5.large", 0, 10))
	h.priorities("10:\n  - b\n")
	h.pods("web", 1, "500m", nil)
	h.waitUnschedulable(1)
	h.a.o.DryRun = true // plan only, so the next cycle plans again
	if c := h.runOnce(); len(c.Plan.Increases) != 1 || c.Plan.Increases[0].Group != "b" {
		t.Fatalf("plan %+v, want b", c.Plan.Increases)
	}
	h.priorities("10:\n  - a\n")
	if c := h.runOnce(); len(c.Plan.Increases) != 1 || c.Plan.Increases[0].Group != "a" {
		t.Fatalf("after the edit: plan %+v, want a", c.Plan.Increases)
	}
	h.priorities("not: [valid")
	if c := h.runOnce(); len(c.Plan.Increases) != 1 {
		t.Fatalf("an invalid configmap must not stop scale-up: %+v", c.Plan)
	}
	if got := matching(h.drainEvents(), "InvalidPriorities"); len(got) != 1 {
		t.Fatalf("want one InvalidPriorities warning, got %v", got)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newHarness(t, Options{DryRun: true}, testGroup(t, "general", "m5.large", 0, 10))
	h.pods("web", 4, "500m", nil)
	h.waitUnschedulable(4)
	c := h.runOnce()
	if len(c.Plan.Increases) != 1 || len(h.cloud.setCalls()) != 0 || len(c.Applied) != 0 {
		t.Fatalf("dry run: plan %+v, calls %v", c.Plan.Increases, h.cloud.setCalls())
	}
	if got := matching(h.drainEvents(), "dry run: pod would trigger scale-up"); len(got) != 4 {
		t.Fatalf("dry-run events %v", got)
	}
	if st := h.status(); st.LastScaleUp == nil || !st.LastScaleUp.DryRun {
		t.Fatalf("status %+v", st.LastScaleUp)
	}
}

func TestInstanceNeverReadyIsTerminatedAndBackedOff(t *testing.T) {
	g := testGroup(t, "slow", "m5.large", 0, 10)
	g.TargetSize = 2
	launched := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		id := fmt.Sprintf("i-%017d", i)
		g.Instances = append(g.Instances, cloud.Instance{ID: id, ProviderID: cloud.ProviderID(testZone, id),
			State: cloud.InstanceStateRunning, LaunchTime: launched, GroupName: "slow", InstanceType: "m5.large"})
	}
	h := newHarness(t, Options{MaxNodeProvisionTime: 10 * time.Minute}, g, testGroup(t, "fallback", "m6i.large", 0, 10))
	h.pods("web", 2, "500m", nil)
	h.waitUnschedulable(2)

	// Within the provision time the instances are upcoming: no scale-up.
	c := h.runOnce()
	if len(h.cloud.setCalls()) != 0 || len(c.Terminated) != 0 || len(c.Plan.Placed) != 2 {
		t.Fatalf("before the timeout: calls %v, terminated %v, placed %v", h.cloud.setCalls(), c.Terminated, c.Plan.Placed)
	}
	h.clock.Step(10 * time.Minute)
	c = h.runOnce()
	if len(c.Terminated) != 2 || !strings.Contains(c.BackedOff["slow"], "did not register a node within 10m") {
		t.Fatalf("after the timeout: terminated %v, backed off %v", c.Terminated, c.BackedOff)
	}
	if got := h.cloud.group("slow"); got.TargetSize != 0 || len(got.Instances) != 0 {
		t.Fatalf("slow group after termination: target %d, instances %d", got.TargetSize, len(got.Instances))
	}
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"fallback=1"}) {
		t.Fatalf("scale calls %v, want the pods moved to fallback", got)
	}
}

func TestLimitsStopScaleUp(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10))
	h.a.o.Limits.MaxNodesTotal = 2
	h.pods("web", 12, "500m", nil) // 4 nodes' worth
	h.waitUnschedulable(12)
	c := h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"general=2"}) {
		t.Fatalf("scale calls %v, want [general=2] (max-nodes-total 2)", got)
	}
	if len(c.Plan.Unschedulable) != 6 {
		t.Fatalf("%d pods unschedulable, want 6", len(c.Plan.Unschedulable))
	}
	if got := matching(h.drainEvents(), ReasonNotTriggerScaleUp, "MaxNodesTotal reached (2)"); len(got) != 6 {
		t.Fatalf("NotTriggerScaleUp events naming the limit: %v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"defaults", Options{}, ""},
		{"unknown expander", Options{Expanders: "cheapest"}, `expander 1 "cheapest"`},
		{"batch max below idle", Options{BatchIdle: 5 * time.Second, BatchMax: time.Second}, "batch-max-duration"},
		{"negative provision time", Options{MaxNodeProvisionTime: -time.Second}, "max-node-provision-time"},
		{"bad configmap", Options{PriorityConfigMap: "nonamespace"}, "want namespace/name"},
		{"negative limit", Options{Limits: autoscaler.Limits{MaxNodesTotal: -1}}, "must not be negative"},
		{"negative planning duration", Options{MaxPlanningDuration: -time.Second}, "max-planning-duration -1s: must be positive"},
		{"negative node budget", Options{MaxNodesPerScaleUp: -1}, "max-nodes-per-scaleup -1: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.WithDefaults().Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func (h *harness) priorities(doc string) {
	h.t.Helper()
	h.configMap("kelp-priority-expander", doc)
}

// configMap writes a priority ConfigMap named name in kube-system.
func (h *harness) configMap(name, doc string) {
	h.t.Helper()
	ctx := context.Background()
	cms := h.env.Client.CoreV1().ConfigMaps("kube-system")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{PriorityKey: doc}}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.t.Cleanup(func() { _ = cms.Delete(context.Background(), cm.Name, metav1.DeleteOptions{}) })
}

func (h *harness) status() autoscaler.Status {
	h.t.Helper()
	cm, err := h.env.Client.CoreV1().ConfigMaps("kube-system").Get(context.Background(), StatusConfigMap, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var st autoscaler.Status
	if err := yaml.UnmarshalStrict([]byte(cm.Data["status"]), &st); err != nil {
		h.t.Fatalf("status is not valid YAML of Status: %v\n%s", err, cm.Data["status"])
	}
	return st
}

func TestStuckInstancesAtMinSizeAreLeft(t *testing.T) {
	g := testGroup(t, "floor", "m5.large", 2, 10)
	for i := range 2 {
		id := fmt.Sprintf("i-%017d", 10+i)
		g.Instances = append(g.Instances, cloud.Instance{ID: id, ProviderID: cloud.ProviderID(testZone, id),
			State: cloud.InstanceStateRunning, LaunchTime: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), GroupName: "floor"})
	}
	h := newHarness(t, Options{MaxNodeProvisionTime: 10 * time.Minute}, g)
	c := h.runOnce()
	if len(c.Terminated) != 0 || len(h.cloud.deleted) != 0 {
		t.Fatalf("terminated %v: the group needs them for its min size", h.cloud.deleted)
	}
	if _, ok := c.BackedOff["floor"]; ok {
		t.Fatalf("backed off %v: nothing was terminated", c.BackedOff)
	}
}

// TestFailingGroupAtMinSizeFallsBack: a group at its min size whose only
// type fails offers no phantom upcoming node: the pods go to the other
// group in the cycle that sees the failure. A failed launch of that group
// which a launch of it followed (a mixed group skipping a type) does not
// back it off.
func TestFailingGroupAtMinSizeFallsBack(t *testing.T) {
	general := testGroup(t, "general", "m5.large", 1, 10)
	general.TargetSize = 1
	h := newHarness(t, Options{}, general, testGroup(t, "spot", "m6i.large", 0, 10))
	now := h.clock.Now()
	h.cloud.mu.Lock()
	h.cloud.launches = []cloud.GroupError{{Err: cloud.ErrInsufficientCapacity, Group: "general", InstanceType: "m5.large",
		AvailabilityZone: testZone, Message: "no capacity", ActivityID: "act-g", Time: now}}
	h.cloud.mu.Unlock()
	h.pods("web", 6, "500m", nil)
	h.waitUnschedulable(6)
	c := h.runOnce()
	if _, ok := c.BackedOff["general"]; !ok {
		t.Fatalf("general not backed off: %+v", c.BackedOff)
	}
	if len(c.Plan.Placed) != 0 {
		t.Fatalf("pods placed on general's node that cannot launch: %v", c.Plan.Placed)
	}
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"spot=2"}) {
		t.Fatalf("scale calls %v, want [spot=2]", got)
	}
	if p := h.status().Pools[0]; p.Group != "general" || p.Upcoming != 0 {
		t.Fatalf("general status %+v, want no upcoming", p)
	}

	// The spot group skipped a type and launched another at the same time.
	h.cloud.mu.Lock()
	i := slices.IndexFunc(h.cloud.groups, func(g cloud.NodeGroup) bool { return g.ID == "spot" })
	h.cloud.groups[i].Instances = []cloud.Instance{{ID: "i-00000000000000001", ProviderID: cloud.ProviderID(testZone, "i-00000000000000001"),
		State: cloud.InstanceStatePending, LaunchTime: now, GroupName: "spot", InstanceType: "m6i.large"}}
	h.cloud.launches = append(h.cloud.launches, cloud.GroupError{Err: cloud.ErrInsufficientCapacity, Group: "spot",
		InstanceType: "m5.large", AvailabilityZone: testZone, Message: "no capacity", ActivityID: "act-s", Time: now})
	h.cloud.mu.Unlock()
	c = h.runOnce()
	if _, ok := c.BackedOff["spot"]; ok {
		t.Fatalf("spot backed off for a type it skipped: %+v", c.BackedOff)
	}
	if _, ok := h.a.backoffs.Active(h.clock.Now())["spot"]; ok {
		t.Fatal("spot has a running backoff")
	}
	if len(c.Plan.Placed) != 6 || len(h.cloud.setCalls()) != 1 {
		t.Fatalf("placed %d pods on spot's upcoming nodes (want 6), calls %v", len(c.Plan.Placed), h.cloud.setCalls())
	}
}

// TestRaiseAfterBackoffCountsAsUpcoming: once a failed group's backoff
// ends and scale-up raises its target again, the failure the cloud still
// reports from before does not hide the new request: the next cycle sees
// it upcoming and does not scale up a second time.
func TestRaiseAfterBackoffCountsAsUpcoming(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "only", "m5.large", 0, 10))
	h.cloud.mu.Lock()
	h.cloud.launches = []cloud.GroupError{{Err: cloud.ErrInsufficientCapacity, Group: "only", InstanceType: "m5.large",
		AvailabilityZone: testZone, Message: "no capacity", ActivityID: "act-1", Time: h.clock.Now()}}
	h.cloud.mu.Unlock()
	h.pods("web", 3, "500m", nil)
	h.waitUnschedulable(3)
	if c := h.runOnce(); c.BackedOff["only"] == "" || len(h.cloud.setCalls()) != 0 {
		t.Fatalf("backed off %v, calls %v: want backed off, no call", c.BackedOff, h.cloud.setCalls())
	}
	h.clock.Step(5*time.Minute + time.Second)
	h.runOnce()
	h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"only=1"}) {
		t.Fatalf("scale calls %v, want [only=1]: the raise is upcoming despite the older failure", got)
	}
}

// TestBalanceSimilarNodeGroups: with --balance-similar-node-groups, the
// nodes for a burst spread over two pools alike but for their zone.
func TestBalanceSimilarNodeGroups(t *testing.T) {
	zonal := func(id, zone string) cloud.NodeGroup {
		g := testGroup(t, id, "m5.large", 0, 10)
		g.Template.Zones = []string{zone}
		g.Template.Labels[corev1.LabelTopologyZone] = zone
		return g
	}
	h := newHarness(t, Options{BalanceSimilarNodeGroups: true}, zonal("web-a", "us-east-1a"), zonal("web-b", "us-east-1b"))
	h.pods("web", 4, "1500m", nil)
	h.waitUnschedulable(4)
	c := h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"web-a=2", "web-b=2"}) {
		t.Fatalf("scale-ups %v, want [web-a=2 web-b=2]; plan %+v", got, c.Plan)
	}
}

// TestClusterAutoscalersPriorityConfigMap: without kelp's own ConfigMap,
// the priority expander reads cluster-autoscaler's, so a cluster moving
// from cluster-autoscaler keeps its priorities; kelp's wins when both
// exist.
func TestClusterAutoscalersPriorityConfigMap(t *testing.T) {
	h := newHarness(t, Options{Expanders: "priority,least-waste", DryRun: true}, testGroup(t, "prod-a", "m5.large", 0, 10), testGroup(t, "prod-b", "m5.large", 0, 10))
	h.configMap("cluster-autoscaler-priority-expander", "10:\n  - b\n") // unanchored: matches prod-b
	h.pods("web", 1, "500m", nil)
	h.waitUnschedulable(1)
	if c := h.runOnce(); len(c.Plan.Increases) != 1 || c.Plan.Increases[0].Group != "prod-b" {
		t.Fatalf("plan %+v, want prod-b from cluster-autoscaler's configmap", c.Plan.Increases)
	}
	h.priorities("10:\n  - a$\n")
	if c := h.runOnce(); len(c.Plan.Increases) != 1 || c.Plan.Increases[0].Group != "prod-a" {
		t.Fatalf("plan %+v, want prod-a from kelp's own configmap", c.Plan.Increases)
	}
}
