// Package drain owns removing one node safely, the actuator of
// autoscaler.PlanScaleDown: [Drainer.Remove] taints the node NoSchedule
// (kelp.dev/to-be-deleted and cluster-autoscaler's
// ToBeDeletedByClusterAutoscaler, whose value is the unix time), evicts
// every pod but DaemonSet and mirror pods through the policy/v1 Eviction
// API (a PodDisruptionBudget's 429 is retried with jittered backoff until
// MaxGracefulTermination), waits until the evicted pods are gone,
// re-lists the node's pods and terminates the instance with its Auto
// Scaling group decremented ([Terminator]) only when none is left, then
// deletes the Node.
//
// # Failures and crashes
//
// A failure before the instance is terminated removes both taints and
// returns an [*Error] naming the [Step]; the node is back in service and
// the pods already evicted run elsewhere. Once the instance is
// terminated the taint stays: the node is going away, and node lifecycle
// deletes the Node of a terminated instance if the last step failed.
//
// A process that dies mid-removal leaves a tainted node. [Drainer.Recover],
// called once at start-up before planning, untaints every node carrying
// kelp's taint that this Drainer is not removing. Kelp untaints rather
// than resumes: the plan that chose the node is stale after a restart
// (pods moved, delays, PDB budgets), so the node goes back into service
// and the next plan decides again from the cluster as it is. A node whose
// instance was already terminated is untainted too; it is NotReady and
// node lifecycle deletes it.
//
// The invariant: an instance is never terminated while its node has a pod
// that was not evicted, DaemonSet and mirror pods excepted. Remove checks
// it against a fresh list from the API server right before terminating.
//
// # With no kubelet
//
// Eviction deletes a pod with its grace period (capped at
// MaxGracefulTermination). A bound pod with a grace period above zero is
// only marked Terminating (deletionTimestamp) until its kubelet confirms
// with a deletion of grace 0; without a kubelet it stays, and the
// removal fails at [StepWaitForPods]. A pod whose grace period is 0 is
// removed from the API at once. Tests without kubelets either use grace
// period 0 or run a fake kubelet that force-deletes Terminating pods.
package drain
