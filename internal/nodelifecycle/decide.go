package nodelifecycle

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// InstanceStatus is what node lifecycle knows of a Node's instance.
type InstanceStatus int

const (
	// InstanceAlive: the instance exists and is not terminated.
	InstanceAlive InstanceStatus = iota
	// InstanceTerminated: the cloud reports it terminated (or terminating).
	InstanceTerminated
	// InstanceGone: the cloud answered and does not know the id.
	InstanceGone
)

// Reasons of an Action; CamelCase, so they serve as Event reasons and
// metric labels.
const (
	ReasonInstanceTerminated = "InstanceTerminated"
	ReasonInstanceGone       = "InstanceGone"
	// ReasonNotInCloud: the Node has no aws:/// providerID; it is left
	// alone and reported.
	ReasonNotInCloud = "NotInCloud"
)

// Action is node lifecycle's decision for one Node.
type Action struct {
	// Delete the Node.
	Delete bool
	// Reason is ReasonInstanceTerminated or ReasonInstanceGone for a
	// deletion, ReasonNotInCloud for a Node left alone and reported, ""
	// when there is nothing to do.
	Reason string
	// Message says why, naming the Node and its providerID; "" when there
	// is nothing to do.
	Message string
}

// Decide is node lifecycle's pure core: a Node whose instance is
// terminated or unknown to the cloud is deleted; a Node the cloud never
// saw (no aws providerID, see IsCloudProviderID) is left alone and
// reported, whatever status says (the caller need not look it up).
func Decide(node *corev1.Node, status InstanceStatus) Action {
	id := node.Spec.ProviderID
	if !IsCloudProviderID(id) {
		return Action{Reason: ReasonNotInCloud,
			Message: fmt.Sprintf("node %s has no aws:/// providerID (%q): kelp never deletes it", node.Name, id)}
	}
	switch status {
	case InstanceTerminated:
		return Action{Delete: true, Reason: ReasonInstanceTerminated,
			Message: fmt.Sprintf("deleting node %s: its instance %s is terminated", node.Name, id)}
	case InstanceGone:
		return Action{Delete: true, Reason: ReasonInstanceGone,
			Message: fmt.Sprintf("deleting node %s: its instance %s is unknown to the cloud", node.Name, id)}
	}
	return Action{}
}

// IsCloudProviderID reports whether a providerID names an AWS instance.
func IsCloudProviderID(id string) bool {
	return strings.HasPrefix(id, "aws:///") && strings.Count(id, "/") == 4
}
