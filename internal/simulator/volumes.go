package simulator

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// VolumeLimitPrefix names, in a node's status.allocatable, how many
// volumes of a CSI driver the node may attach:
// "attachable-volumes-csi-<driver>" (the name the kubelet used before
// CSINode; [VolumeLimitName]). The caller copies the node's CSINode
// spec.drivers[].allocatable.count there, and a node made from a template
// inherits the template's. A driver without an entry has no limit, as in
// kube-scheduler's NodeVolumeLimits filter.
const VolumeLimitPrefix = "attachable-volumes-csi-"

// VolumeLimitName returns the allocatable name of driver's attach limit.
func VolumeLimitName(driver string) corev1.ResourceName {
	return corev1.ResourceName(VolumeLimitPrefix + driver)
}

// Volume is a volume a pod attaches through a CSI driver, resolved by the
// caller: the driver of its PersistentVolume, or of its StorageClass's
// provisioner when not provisioned yet. Handle identifies the volume (a
// PersistentVolume's volume handle, or a claim's namespace/name): pods on
// one node sharing a handle attach it once.
type Volume struct {
	Driver, Handle string
}

// volumesFit is kube-scheduler's NodeVolumeLimits filter for CSI volumes:
// for each driver with a limit on node n, the volumes attached by its
// pods plus those p adds (not attached already) must not exceed it.
func volumesFit(p *Pod, n *nodeState) Reason {
	if len(p.volumes) == 0 {
		return ReasonNone
	}
	var limits map[string]int64
	for name, q := range n.node.Status.Allocatable {
		if d, ok := strings.CutPrefix(string(name), VolumeLimitPrefix); ok {
			if limits == nil {
				limits = map[string]int64{}
			}
			limits[d] = q.Value()
		}
	}
	if limits == nil {
		return ReasonNone
	}
	attached := map[Volume]bool{}
	for _, q := range n.pods {
		for _, v := range q.volumes {
			if _, limited := limits[v.Driver]; limited {
				attached[v] = true
			}
		}
	}
	count := map[string]int64{}
	for v := range attached {
		count[v.Driver]++
	}
	for _, v := range p.volumes {
		if _, limited := limits[v.Driver]; limited && !attached[v] {
			attached[v] = true
			count[v.Driver]++
		}
	}
	for d, c := range count {
		if c > limits[d] {
			return ReasonMaxVolumeCount
		}
	}
	return ReasonNone
}
