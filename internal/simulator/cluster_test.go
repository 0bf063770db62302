package simulator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// threeZones is a1, a2 in us-east-1a, b1 in us-east-1b, c1 in us-east-1c.
func threeZones(t *testing.T) []*corev1.Node {
	return []*corev1.Node{
		catalogNode(t, "a1", "m5.xlarge", "us-east-1a"),
		catalogNode(t, "a2", "m5.xlarge", "us-east-1a"),
		catalogNode(t, "b1", "m5.xlarge", "us-east-1b"),
		catalogNode(t, "c1", "m5.xlarge", "us-east-1c"),
	}
}

type placed struct {
	node string
	pod  *corev1.Pod
}

// TestFitNodesCluster covers the predicates that depend on pods across
// nodes: inter-pod affinity and anti-affinity (with symmetry) and topology
// spread. want lists the nodes that fit; every other node must carry
// reason.
func TestFitNodesCluster(t *testing.T) {
	db := func(name string, opts ...podOpt) *corev1.Pod {
		return mkPod(name, append([]podOpt{withLabels("app", "db")}, opts...)...)
	}
	web := func(name string, opts ...podOpt) *corev1.Pod {
		return mkPod(name, append([]podOpt{withLabels("app", "web")}, opts...)...)
	}
	tests := []struct {
		name     string
		nodes    func(*testing.T) []*corev1.Node
		existing []placed
		pod      *corev1.Pod
		fit      []string
		reason   Reason
	}{
		{"hostname anti-affinity avoids the node with a match", threeZones, []placed{{"a1", web("w0")}},
			web("p", antiAffinity(LabelHostname, "app", "web")), []string{"a2", "b1", "c1"}, ReasonPodAntiAffinity},
		{"zone anti-affinity avoids the whole zone", threeZones, []placed{{"a1", web("w0")}},
			web("p", antiAffinity(LabelZone, "app", "web")), []string{"b1", "c1"}, ReasonPodAntiAffinity},
		{"anti-affinity ignores other namespaces", threeZones, []placed{{"a1", withNS(web("w0"), "other")}},
			web("p", antiAffinity(LabelHostname, "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonNone},
		{"symmetry: existing pod's anti-affinity repels the incoming pod", threeZones, []placed{{"a1", db("d0", antiAffinity(LabelZone, "app", "web"))}},
			web("p"), []string{"b1", "c1"}, ReasonExistingAntiAffinity},
		{"symmetry on hostname", threeZones, []placed{{"b1", db("d0", antiAffinity(LabelHostname, "app", "web"))}},
			web("p"), []string{"a1", "a2", "c1"}, ReasonExistingAntiAffinity},
		{"zone affinity follows the matching pod's zone", threeZones, []placed{{"a2", db("d0")}},
			web("p", podAffinity(LabelZone, "app", "db")), []string{"a1", "a2"}, ReasonPodAffinity},
		{"hostname affinity to a pod's node", threeZones, []placed{{"b1", db("d0")}},
			web("p", podAffinity(LabelHostname, "app", "db")), []string{"b1"}, ReasonPodAffinity},
		{"affinity with no match anywhere fails", threeZones, nil,
			web("p", podAffinity(LabelZone, "app", "db")), nil, ReasonPodAffinity},
		{"first pod of a self-affine group may go anywhere", threeZones, nil,
			web("p", podAffinity(LabelZone, "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonNone},
		{"zone spread: zones with zero pods count as minimum", threeZones, []placed{{"a1", web("w0")}, {"b1", web("w1")}},
			web("p", spread(LabelZone, 1, nil, "app", "web")), []string{"c1"}, ReasonSpread},
		{"zone spread maxSkew 2 allows the loaded zones", threeZones, []placed{{"a1", web("w0")}, {"b1", web("w1")}},
			web("p", spread(LabelZone, 2, nil, "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonNone},
		{"minDomains above the domain count makes the minimum 0", threeZones, []placed{{"a1", web("w0")}, {"b1", web("w1")}, {"c1", web("w2")}},
			web("p", spread(LabelZone, 1, ptr.To[int32](4), "app", "web")), nil, ReasonSpread},
		{"minDomains met behaves as usual", threeZones, []placed{{"a1", web("w0")}, {"b1", web("w1")}, {"c1", web("w2")}},
			web("p", spread(LabelZone, 1, ptr.To[int32](3), "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonNone},
		{"hostname spread", threeZones, []placed{{"a1", web("w0")}},
			web("p", spread(LabelHostname, 1, nil, "app", "web")), []string{"a2", "b1", "c1"}, ReasonSpread},
		{"spread counts only nodes matching node affinity (Honor default)", threeZones, []placed{{"a1", web("w0")}, {"b1", web("w1")}},
			web("p", spread(LabelZone, 1, nil, "app", "web"), nodeAffinity(expr(LabelZone, corev1.NodeSelectorOpIn, "us-east-1a", "us-east-1b"))),
			[]string{"a1", "a2", "b1"}, ReasonNodeAffinity},
		{"node without the topology label", func(t *testing.T) []*corev1.Node {
			n := catalogNode(t, "x", "m5.large", "")
			delete(n.Labels, LabelZone)
			return append(threeZones(t), n)
		}, nil, web("p", spread(LabelZone, 1, nil, "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonSpreadMissingLabel},
		{"spread skips terminating pods", threeZones, []placed{{"a1", terminating(web("w0"))}},
			web("p", spread(LabelZone, 1, nil, "app", "web")), []string{"a1", "a2", "b1", "c1"}, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSnapshot()
			for _, n := range tt.nodes(t) {
				mustAddNode(t, s, n)
			}
			for _, e := range tt.existing {
				mustAddPod(t, s, e.node, e.pod)
			}
			p := compiled(tt.pod)
			res := FitNodes(s, p)
			if res.Unsupported != ReasonNone {
				t.Fatalf("unsupported: %s", res.Unsupported)
			}
			if !equalStrings(res.Fit, tt.fit) {
				t.Errorf("fit = %v, want %v (reasons %v)", res.Fit, tt.fit, res.Reasons)
			}
			for node, r := range res.Reasons {
				if r != tt.reason {
					t.Errorf("reason on %s = %q, want %q", node, r, tt.reason)
				}
				if ok, single := Fits(s, p, node); ok || single != r {
					t.Errorf("Fits(%s) = %v %q, FitNodes says %q", node, ok, single, r)
				}
			}
		})
	}
}

func withNS(p *corev1.Pod, ns string) *corev1.Pod {
	p.Namespace = ns
	return p
}

func terminating(p *corev1.Pod) *corev1.Pod {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
