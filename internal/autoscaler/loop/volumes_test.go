package loop

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumePair creates a PersistentVolume of the EBS CSI driver and a claim
// bound to it.
func (h *harness) volumePair(name string) {
	h.t.Helper()
	ctx := context.Background()
	empty := ""
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: h.ns + "-" + name}, Spec: corev1.PersistentVolumeSpec{
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: empty,
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: ebsDriver, VolumeHandle: "vol-" + name}},
		ClaimRef:               &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: h.ns, Name: name},
	}}
	if _, err := h.env.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = h.env.Client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &empty, VolumeName: pv.Name,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	if _, err := h.env.Client.CoreV1().PersistentVolumeClaims(h.ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// TestVolumeAttachLimitScalesUp: a node whose CSINode allows one EBS
// volume has one attached; a pending pod with another volume fits it by
// cpu but not by the attach limit, so it scales up instead of being
// counted as fitting.
func TestVolumeAttachLimitScalesUp(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 1, "100m", nil)
	one := int32(1)
	csi := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: nodes[0]}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
		{Name: ebsDriver, NodeID: "i-1", Allocatable: &storagev1.VolumeNodeResources{Count: &one}}}}}
	if _, err := h.env.Client.StorageV1().CSINodes().Create(context.Background(), csi, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.env.Client.StorageV1().CSINodes().Delete(context.Background(), csi.Name, metav1.DeleteOptions{})
	})
	h.volumePair("data-a")
	h.volumePair("data-b")
	withClaim := func(name, claim, node string) *corev1.Pod {
		spec := podSpec("100m", "")
		spec.NodeName = node
		spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	}
	for _, p := range []*corev1.Pod{withClaim("db-0", "data-a", nodes[0]), withClaim("db-1", "data-b", "")} {
		if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitUnschedulable(1)
	h.waitPods("the CSINode and claims cached", func([]*corev1.Pod) bool {
		_, err1 := h.a.l.csiNodes.Get(nodes[0])
		_, err2 := h.a.l.pvcs.PersistentVolumeClaims(h.ns).Get("data-b")
		return err1 == nil && err2 == nil
	})

	c := h.runOnce()
	if _, placed := c.Plan.Placed[h.ns+"/db-1"]; placed {
		t.Fatalf("db-1 counted as fitting %s despite its attach limit; plan %+v", c.Plan.Placed[h.ns+"/db-1"], c.Plan)
	}
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"general=2"}) {
		t.Fatalf("scale-ups %v, want [general=2]; plan %+v", got, c.Plan)
	}
}
