package nodeagent

import (
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func testFacts(t *testing.T, instanceType, lifecycle string, pool userdata.NodeConfig) nodeFacts {
	t.Helper()
	id := validIdentity()
	id.InstanceType, id.Lifecycle = instanceType, lifecycle
	it, err := catalog.Lookup(instanceType)
	if err != nil {
		t.Fatal(err)
	}
	return nodeFacts{ID: id, Pool: pool, Type: it, Port: 10250}
}

func TestBuildNode(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gpuTaint := corev1.Taint{Key: "nvidia.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name       string
		facts      nodeFacts
		wantLabels map[string]string // subset
		wantCPU    string            // capacity
		wantAlloc  string            // allocatable cpu
		wantGPU    int64
		wantTaints []corev1.Taint
	}{
		{
			name:  "on-demand amd64",
			facts: testFacts(t, "m5.large", LifecycleOnDemand, userdata.NodeConfig{Pool: "workers"}),
			wantLabels: map[string]string{
				"kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m5.large",
				"kelp.dev/capacity-type": "on-demand", "kelp.dev/pool": "workers",
				"kubernetes.io/hostname": "ip-127-0-1-5.ec2.internal", "kubernetes.io/os": "linux",
				"topology.kubernetes.io/zone": "us-east-1a", "topology.kubernetes.io/region": "us-east-1",
			},
			wantCPU: "2", wantAlloc: "1930m",
		},
		{
			name: "spot arm64 with pool labels, identity labels win",
			facts: testFacts(t, "m6g.xlarge", LifecycleSpot, userdata.NodeConfig{Pool: "batch", Labels: map[string]string{
				"example.com/tier": "batch", "topology.kubernetes.io/zone": "elsewhere", "kelp.dev/pool": "batch",
			}}),
			wantLabels: map[string]string{
				"kubernetes.io/arch": "arm64", "kelp.dev/capacity-type": "spot", "kelp.dev/pool": "batch",
				"example.com/tier": "batch", "topology.kubernetes.io/zone": "us-east-1a",
			},
			wantCPU: "4", wantAlloc: "3920m",
		},
		{
			name:       "gpu with taints",
			facts:      testFacts(t, "g4dn.xlarge", LifecycleOnDemand, userdata.NodeConfig{Pool: "gpu", Taints: []corev1.Taint{gpuTaint}}),
			wantLabels: map[string]string{"node.kubernetes.io/instance-type": "g4dn.xlarge"},
			wantCPU:    "4", wantAlloc: "3920m", wantGPU: 1,
			wantTaints: []corev1.Taint{gpuTaint},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := buildNode(tt.facts, now)
			if n.Name != tt.facts.ID.PrivateDNSName || n.Spec.ProviderID != "aws:///us-east-1a/i-0123456789abcdef0" ||
				n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
				t.Errorf("name %q providerID %q endpoint %v", n.Name, n.Spec.ProviderID, n.Status.DaemonEndpoints)
			}
			for k, v := range tt.wantLabels {
				if n.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
				}
			}
			for k := range n.Labels {
				if !userdata.IsKubeletLabel(k) {
					t.Errorf("label %s would be refused by NodeRestriction", k)
				}
			}
			checkQuantity(t, "capacity cpu", n.Status.Capacity[corev1.ResourceCPU], tt.wantCPU)
			checkQuantity(t, "allocatable cpu", n.Status.Allocatable[corev1.ResourceCPU], tt.wantAlloc)
			if gpu := n.Status.Capacity[catalog.ResourceNVIDIAGPU]; gpu.Value() != tt.wantGPU {
				t.Errorf("gpu capacity = %s, want %d", gpu.String(), tt.wantGPU)
			}
			if !apiequality.Semantic.DeepEqual(n.Spec.Taints, tt.wantTaints) {
				t.Errorf("taints = %v, want %v", n.Spec.Taints, tt.wantTaints)
			}
			if !apiequality.Semantic.DeepEqual(n.Status.Allocatable, tt.facts.Type.Allocatable()) {
				t.Errorf("allocatable = %v, want the catalog's %v", n.Status.Allocatable, tt.facts.Type.Allocatable())
			}
		})
	}
}

func checkQuantity(t *testing.T, what string, got resource.Quantity, want string) {
	t.Helper()
	if got.Cmp(resource.MustParse(want)) != 0 {
		t.Errorf("%s = %s, want %s", what, got.String(), want)
	}
}

func TestNodeConditionsKeepTransitionTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	first := nodeConditions(nil, t0)
	if len(first) != 4 || first[3].Type != corev1.NodeReady || first[3].Status != corev1.ConditionTrue {
		t.Fatalf("conditions = %v, want pressure conditions then Ready=True", first)
	}
	for _, c := range first[:3] {
		if c.Status != corev1.ConditionFalse {
			t.Errorf("%s = %s, want False", c.Type, c.Status)
		}
	}
	// Ready was Unknown (the controller marked it while the agent was down).
	prev := append([]corev1.NodeCondition(nil), first...)
	prev[3].Status = corev1.ConditionUnknown
	next := nodeConditions(prev, t1)
	for i, c := range next {
		wantTransition := t0
		if c.Type == corev1.NodeReady {
			wantTransition = t1
		}
		if !c.LastTransitionTime.Time.Equal(wantTransition) || !c.LastHeartbeatTime.Time.Equal(t1) {
			t.Errorf("condition %d %s: transition %v heartbeat %v, want %v and %v", i, c.Type, c.LastTransitionTime, c.LastHeartbeatTime, wantTransition, t1)
		}
	}
}

func TestLabelsToReconcile(t *testing.T) {
	f := testFacts(t, "m5.large", LifecycleSpot, userdata.NodeConfig{Pool: "workers"})
	current := nodeLabels(f)
	if d := labelsToReconcile(f, current); d != nil {
		t.Errorf("labelsToReconcile of current labels = %v, want nil", d)
	}
	stale := maps.Clone(current)
	stale["node.kubernetes.io/instance-type"] = "m4.large"
	delete(stale, "kelp.dev/capacity-type")
	stale["custom"] = "kept"
	want := map[string]string{"node.kubernetes.io/instance-type": "m5.large", "kelp.dev/capacity-type": "spot"}
	if d := labelsToReconcile(f, stale); !maps.Equal(d, want) {
		t.Errorf("labelsToReconcile = %v, want %v", d, want)
	}
}
