package simulator

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestVolumeLimits is kube-scheduler's NodeVolumeLimits for CSI drivers:
// a node's limit per driver counts the distinct volumes of its pods; a
// driver without a limit, or a node without limits, accepts any number;
// a template node takes its template's limits.
func TestVolumeLimits(t *testing.T) {
	const ebs, efs = "ebs.csi.aws.com", "efs.csi.aws.com"
	vols := func(driver string, handles ...string) []Volume {
		var out []Volume
		for _, h := range handles {
			out = append(out, Volume{Driver: driver, Handle: h})
		}
		return out
	}
	withLimits := func(n *corev1.Node, kv map[string]int64) *corev1.Node {
		n = n.DeepCopy()
		for d, c := range kv {
			n.Status.Allocatable[VolumeLimitName(d)] = *resource.NewQuantity(c, resource.DecimalSI)
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		limits   map[string]int64 // nil: the node has none
		existing [][]Volume       // one pod each
		pod      []Volume
		want     Reason
	}{
		{name: "no limits: any number", existing: [][]Volume{vols(ebs, "a", "b", "c")}, pod: vols(ebs, "d")},
		{name: "under the limit", limits: map[string]int64{ebs: 3}, existing: [][]Volume{vols(ebs, "a")}, pod: vols(ebs, "b", "c")},
		{name: "over the limit", limits: map[string]int64{ebs: 3}, existing: [][]Volume{vols(ebs, "a"), vols(ebs, "b")}, pod: vols(ebs, "c", "d"),
			want: ReasonMaxVolumeCount},
		{name: "a volume attached already counts once", limits: map[string]int64{ebs: 2}, existing: [][]Volume{vols(ebs, "a", "b")},
			pod: vols(ebs, "a")},
		{name: "pods sharing a volume attach it once", limits: map[string]int64{ebs: 2}, existing: [][]Volume{vols(ebs, "a"), vols(ebs, "a")},
			pod: vols(ebs, "b")},
		{name: "another driver's volumes do not count", limits: map[string]int64{ebs: 1}, existing: [][]Volume{vols(efs, "x", "y")},
			pod: vols(ebs, "a")},
		{name: "a driver without a limit accepts any", limits: map[string]int64{ebs: 1}, existing: [][]Volume{vols(efs, "x", "y")},
			pod: vols(efs, "z")},
		{name: "limit 0 refuses any volume of the driver", limits: map[string]int64{ebs: 0}, pod: vols(ebs, "a"), want: ReasonMaxVolumeCount},
		{name: "a pod without volumes always fits", limits: map[string]int64{ebs: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := catalogNode(t, "n1", "m5.large", "us-east-1a")
			if tc.limits != nil {
				node = withLimits(node, tc.limits)
			}
			s := NewSnapshot()
			mustAddNode(t, s, node)
			for i, v := range tc.existing {
				p := mkPod(fmt.Sprintf("old-%d", i))
				p.Spec.NodeName = "n1"
				if err := s.AddPod("n1", NewPod(PodInfo{Pod: p, VolumesResolved: true, Volumes: v})); err != nil {
					t.Fatal(err)
				}
			}
			q := NewPod(PodInfo{Pod: mkPod("new"), VolumesResolved: true, Volumes: tc.pod})
			ok, why := Fits(s, q, "n1")
			if ok != (tc.want == ReasonNone) || why != tc.want {
				t.Fatalf("Fits = %t, %q; want %q", ok, why, tc.want)
			}
			res := FitNodes(s, q)
			if got := res.Reasons["n1"]; got != tc.want {
				t.Fatalf("FitNodes reason %q, want %q", got, tc.want)
			}
		})
	}

	// A node made from a template takes its limits: the second pod of two
	// volumes each does not fit a node attaching at most 3.
	tmpl := withLimits(catalogNode(t, "tmpl", "m5.large", "us-east-1a"), map[string]int64{ebs: 3})
	s := NewSnapshot()
	if err := s.AddTemplateNode(tmpl, "new-1", nil); err != nil {
		t.Fatal(err)
	}
	first := NewPod(PodInfo{Pod: mkPod("first"), VolumesResolved: true, Volumes: vols(ebs, "a", "b")})
	if ok, why := Fits(s, first, "new-1"); !ok {
		t.Fatalf("first pod does not fit the template node: %s", why)
	}
	mustAdd := s.AddPod("new-1", first)
	if mustAdd != nil {
		t.Fatal(mustAdd)
	}
	second := NewPod(PodInfo{Pod: mkPod("second"), VolumesResolved: true, Volumes: vols(ebs, "c", "d")})
	if ok, why := Fits(s, second, "new-1"); ok || why != ReasonMaxVolumeCount {
		t.Fatalf("second pod on the template node: %t, %q; want %q", ok, why, ReasonMaxVolumeCount)
	}
	// Placing pod by pod, the second pod goes to a fresh node.
	pl := NewPlacer(s, second)
	if _, ok, err := pl.PlaceFirstFit(second); ok || err != nil {
		t.Fatalf("placer put the second pod on the full node: %t, %v", ok, err)
	}
}
