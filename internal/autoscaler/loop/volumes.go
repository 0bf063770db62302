package loop

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kelp-dev/kelp/internal/simulator"
)

// ebsDriver is the CSI driver in-tree awsElasticBlockStore volumes are
// migrated to, as kube-scheduler counts them.
const ebsDriver = "ebs.csi.aws.com"

// annotationDefaultClass marks the default StorageClass.
const annotationDefaultClass = "storageclass.kubernetes.io/is-default-class"

// limitCache holds the nodes copied with their CSINode's attach limits,
// by informer objects, so an unchanged node is not copied every cycle.
type limitCache struct {
	prev, cur map[*corev1.Node]limitEntry
}

type limitEntry struct {
	csi *storagev1.CSINode
	out *corev1.Node
}

func newLimitCache() *limitCache {
	return &limitCache{prev: map[*corev1.Node]limitEntry{}, cur: map[*corev1.Node]limitEntry{}}
}

func (c *limitCache) next() {
	c.prev, c.cur = c.cur, make(map[*corev1.Node]limitEntry, len(c.cur))
}

// withVolumeLimits returns n with its CSINode's attach limits
// (spec.drivers[].allocatable.count) in status.allocatable under
// simulator.VolumeLimitName, as the simulator reads them; n itself when
// the CSINode states none. Templates built from the node inherit them.
func (l listers) withVolumeLimits(n *corev1.Node, c *limitCache) *corev1.Node {
	if l.csiNodes == nil {
		return n
	}
	csi, err := l.csiNodes.Get(n.Name)
	if err != nil || !slices.ContainsFunc(csi.Spec.Drivers, func(d storagev1.CSINodeDriver) bool {
		return d.Allocatable != nil && d.Allocatable.Count != nil
	}) {
		return n
	}
	if e, ok := c.prev[n]; ok && e.csi == csi {
		c.cur[n] = e
		return e.out
	}
	out := n.DeepCopy()
	if out.Status.Allocatable == nil {
		out.Status.Allocatable = corev1.ResourceList{}
	}
	for _, d := range csi.Spec.Drivers {
		if d.Allocatable != nil && d.Allocatable.Count != nil {
			out.Status.Allocatable[simulator.VolumeLimitName(d.Name)] = *resource.NewQuantity(int64(*d.Allocatable.Count), resource.DecimalSI)
		}
	}
	c.cur[n] = limitEntry{csi, out}
	return out
}

// pvVolume returns the CSI volume a PersistentVolume attaches (in-tree
// EBS counted as the EBS CSI driver), false for other volumes.
func pvVolume(pv *corev1.PersistentVolume) (simulator.Volume, bool) {
	switch {
	case pv.Spec.CSI != nil:
		return simulator.Volume{Driver: pv.Spec.CSI.Driver, Handle: pv.Spec.CSI.VolumeHandle}, true
	case pv.Spec.AWSElasticBlockStore != nil:
		return simulator.Volume{Driver: ebsDriver, Handle: pv.Spec.AWSElasticBlockStore.VolumeID}, true
	}
	return simulator.Volume{}, false
}

// classDriver returns the provisioner of the named StorageClass, or of the
// default one when name is nil; "" when unknown.
func (l listers) classDriver(name *string) string {
	if l.storageClasses == nil {
		return ""
	}
	if name != nil {
		sc, err := l.storageClasses.Get(*name)
		if err != nil {
			return ""
		}
		return sc.Provisioner
	}
	classes, err := l.storageClasses.List(labels.Everything())
	if err != nil {
		return ""
	}
	for _, sc := range classes {
		if sc.Annotations[annotationDefaultClass] == "true" {
			return sc.Provisioner
		}
	}
	return ""
}
