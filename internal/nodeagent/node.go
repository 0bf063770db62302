package nodeagent

import (
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Labels kelp sets on its nodes besides the well-known ones.
const (
	// PoolLabel names the node's pool.
	PoolLabel = userdata.PoolLabel
	// CapacityTypeLabel is "spot" or "on-demand".
	CapacityTypeLabel = "kelp.dev/capacity-type"
)

// nodeFacts is everything a Node object is built from.
type nodeFacts struct {
	ID   InstanceIdentity
	Pool userdata.NodeConfig
	Type catalog.InstanceType
	// Port is the kubelet endpoint port (Tuning.ServingPort).
	Port int
}

// name is the node name: the private DNS name.
func (f nodeFacts) name() string { return f.ID.PrivateDNSName }

// providerID is the AWS cloud provider's ID, aws:///<zone>/<instance-id>.
func providerID(id InstanceIdentity) string {
	return "aws:///" + id.AvailabilityZone + "/" + id.InstanceID
}

// identityLabels are the labels the agent derives from the instance; they
// win over pool labels of the same key.
func identityLabels(f nodeFacts) map[string]string {
	return map[string]string{
		corev1.LabelHostname:           f.name(),
		corev1.LabelOSStable:           "linux",
		corev1.LabelArchStable:         f.Type.Architecture.KubernetesArch(),
		corev1.LabelInstanceTypeStable: f.ID.InstanceType,
		corev1.LabelTopologyZone:       f.ID.AvailabilityZone,
		corev1.LabelTopologyRegion:     f.ID.Region,
		PoolLabel:                      f.Pool.Pool,
		CapacityTypeLabel:              f.ID.Lifecycle,
	}
}

// nodeLabels returns the pool's labels overlaid with identityLabels.
func nodeLabels(f nodeFacts) map[string]string {
	labels := maps.Clone(f.Pool.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, identityLabels(f))
	return labels
}

// buildNode returns the Node the agent registers: labels, register-with
// taints, provider ID and a Ready status as of now.
func buildNode(f nodeFacts, now time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   f.name(),
			Labels: nodeLabels(f),
		},
		Spec: corev1.NodeSpec{
			ProviderID: providerID(f.ID),
			Taints:     slices.Clone(f.Pool.Taints),
		},
		Status: nodeStatus(f, nil, now),
	}
}

// nodeStatus is the status the agent reports at now. Conditions keep their
// lastTransitionTime from prev when their status did not change.
func nodeStatus(f nodeFacts, prev []corev1.NodeCondition, now time.Time) corev1.NodeStatus {
	ip := f.ID.PrivateIP
	return corev1.NodeStatus{
		Capacity:    f.Type.Capacity(),
		Allocatable: f.Type.Allocatable(),
		Conditions:  nodeConditions(prev, now),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ip},
			{Type: corev1.NodeInternalDNS, Address: f.name()},
			{Type: corev1.NodeHostName, Address: f.name()},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(f.Port)}},
		NodeInfo:        nodeInfo(f),
	}
}

// nodeInfo fills NodeSystemInfo; machine and boot IDs derive from the
// instance ID so a restarted agent reports the same machine.
func nodeInfo(f nodeFacts) corev1.NodeSystemInfo {
	id := strings.TrimPrefix(f.ID.InstanceID, "i-")
	return corev1.NodeSystemInfo{
		MachineID:               id,
		SystemUUID:              "ec2" + id,
		BootID:                  f.ID.InstanceID,
		KernelVersion:           "6.1.0-kelp",
		OSImage:                 "kelp simulated node (" + f.ID.ImageID + ")",
		ContainerRuntimeVersion: ContainerRuntimeVersion,
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            f.Type.Architecture.KubernetesArch(),
	}
}

// healthyConditions are the conditions a healthy kubelet reports, in the
// kubelet's order.
var healthyConditions = []struct {
	typ     corev1.NodeConditionType
	status  corev1.ConditionStatus
	reason  string
	message string
}{
	{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
	{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
	{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"},
}

func nodeConditions(prev []corev1.NodeCondition, now time.Time) []corev1.NodeCondition {
	t := metav1.NewTime(now)
	out := make([]corev1.NodeCondition, 0, len(healthyConditions))
	for _, h := range healthyConditions {
		c := corev1.NodeCondition{
			Type: h.typ, Status: h.status, Reason: h.reason, Message: h.message,
			LastHeartbeatTime: t, LastTransitionTime: t,
		}
		if i := slices.IndexFunc(prev, func(p corev1.NodeCondition) bool { return p.Type == h.typ }); i >= 0 &&
			prev[i].Status == h.status && !prev[i].LastTransitionTime.IsZero() {
			c.LastTransitionTime = prev[i].LastTransitionTime
		}
		out = append(out, c)
	}
	return out
}

// labelsToReconcile returns the identity labels whose value on an existing
// node differs from what the agent reports, or nil.
func labelsToReconcile(f nodeFacts, existing map[string]string) map[string]string {
	var diff map[string]string
	for k, v := range identityLabels(f) {
		if existing[k] != v {
			if diff == nil {
				diff = map[string]string{}
			}
			diff[k] = v
		}
	}
	return diff
}
