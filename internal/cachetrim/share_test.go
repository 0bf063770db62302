package cachetrim_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// replica is pod name of a Deployment's template app (on node), as the
// API server sends it: a service account token volume of its own, a
// kubelet's status.
func replica(name, app, node string) *corev1.Pod {
	p := dressed(pod(name, app, "250m", antiAffinity(corev1.LabelHostname), func(p *corev1.Pod) {
		p.Spec.NodeName = node
		p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(300))}}
		p.Spec.TerminationGracePeriodSeconds = ptr.To(int64(30))
		p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-" + name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.ServiceAccountName, p.Spec.SchedulerName, p.Spec.DNSPolicy = "default", corev1.DefaultSchedulerName, corev1.DNSClusterFirst
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable, StartTime: &metav1.Time{},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}
	}))
	p.UID = types.UID("uid-" + p.Name)
	return p
}

// TestReplicasShare: replicas of one template hold one copy of what they
// have in common, equal to what each would hold alone; pods of another
// template share none of it; transforming a pod never writes to a pod
// already transformed.
func TestReplicasShare(t *testing.T) {
	a := trimmed(replica("web-1", "web", "n1"))
	before := a.DeepCopy()
	b := trimmed(replica("web-2", "web", "n2"))
	other := trimmed(replica("db-1", "db", "n1"))
	if !reflect.DeepEqual(a, before) {
		t.Fatalf("transforming web-2 changed web-1:\n%+v\nwant %+v", a, before)
	}
	same := func(x, y any) bool { return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer() }
	for _, c := range []struct {
		what      string
		x, y, z   any
		wantOther bool // whether db shares it with web
	}{
		{"labels", a.Labels, b.Labels, other.Labels, false},
		{"annotations", a.Annotations, b.Annotations, other.Annotations, true},
		{"owner references", a.OwnerReferences, b.OwnerReferences, other.OwnerReferences, false},
		{"containers", a.Spec.Containers, b.Spec.Containers, other.Spec.Containers, true},
		{"tolerations", a.Spec.Tolerations, b.Spec.Tolerations, other.Spec.Tolerations, true},
		{"affinity", a.Spec.Affinity, b.Spec.Affinity, other.Spec.Affinity, false},
		{"volumes", a.Spec.Volumes, b.Spec.Volumes, other.Spec.Volumes, true},
		{"conditions", a.Status.Conditions, b.Status.Conditions, other.Status.Conditions, true},
		{"grace period", a.Spec.TerminationGracePeriodSeconds, b.Spec.TerminationGracePeriodSeconds, other.Spec.TerminationGracePeriodSeconds, true},
	} {
		if !same(c.x, c.y) {
			t.Errorf("%s: replicas hold two copies", c.what)
		}
		if same(c.x, c.z) != c.wantOther {
			t.Errorf("%s: shared with another template: %v, want %v", c.what, same(c.x, c.z), c.wantOther)
		}
	}
	if unsafe.StringData(a.Spec.NodeName) != unsafe.StringData(other.Spec.NodeName) || unsafe.StringData(a.Namespace) != unsafe.StringData(b.Namespace) {
		t.Error("node names and namespaces are not shared")
	}
	if cap(a.Spec.Containers) != len(a.Spec.Containers) {
		t.Error("a shared slice has room to append into")
	}
	if a.Name != "web-1" || b.Name != "web-2" || a.UID == b.UID || b.Spec.NodeName != "n2" {
		t.Errorf("per-pod fields mixed up: %s %s %s %s", a.Name, b.Name, a.UID, b.Spec.NodeName)
	}
}

// TestSharingIsExact: pods that differ in any shared piece, however
// little, keep their own.
func TestSharingIsExact(t *testing.T) {
	base := trimmed(replica("p-0", "edge", "n1"))
	for _, c := range []struct {
		what string
		edit func(*corev1.Pod)
		get  func(*corev1.Pod) any
	}{
		{"a request", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("251m")
		}, func(p *corev1.Pod) any { return p.Spec.Containers[0].Resources }},
		{"a toleration's seconds", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr.To(int64(301)) },
			func(p *corev1.Pod) any { return p.Spec.Tolerations }},
		{"a label value", func(p *corev1.Pod) { p.Labels["app"] = "edge2" }, func(p *corev1.Pod) any { return p.Labels }},
		{"a label moved to an annotation", func(p *corev1.Pod) { delete(p.Labels, "app"); p.Annotations["app"] = "edge" },
			func(p *corev1.Pod) any { return p.Annotations["app"] }},
		{"the owner's uid", func(p *corev1.Pod) { p.OwnerReferences[0].UID = "other" }, func(p *corev1.Pod) any { return p.OwnerReferences }},
	} {
		t.Run(c.what, func(t *testing.T) {
			orig := replica("p-1", "edge", "n1")
			c.edit(orig)
			want := c.get(orig.DeepCopy()) // no trimming changes these
			got := trimmed(orig)
			if reflect.DeepEqual(c.get(got), c.get(base)) {
				t.Fatal("the edit made no difference: the case tests nothing")
			}
			if !reflect.DeepEqual(c.get(got), want) {
				t.Errorf("got %+v, want %+v", c.get(got), want)
			}
		})
	}
}

// TestSharingConcurrent transforms replicas from several goroutines (run
// with -race): each ends equal to its own trimmed copy.
func TestSharingConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				orig := replica(fmt.Sprintf("c-%d-%d", g, i), fmt.Sprintf("app-%d", i%7), fmt.Sprintf("n%d", i%5))
				got := trimmed(orig)
				if got.Spec.Containers[0].Resources.Requests.Cpu().MilliValue() != 250 || got.Labels["app"] != fmt.Sprintf("app-%d", i%7) ||
					got.Spec.NodeName != fmt.Sprintf("n%d", i%5) {
					t.Errorf("%s: %+v", got.Name, got)
				}
			}
		})
	}
	wg.Wait()
}
