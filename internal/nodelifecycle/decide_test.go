package nodelifecycle

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func node(name, providerID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}, Spec: corev1.NodeSpec{ProviderID: providerID}}
}

func TestDecide(t *testing.T) {
	const id = "aws:///us-east-1a/i-0123456789abcdef0"
	tests := []struct {
		name       string
		providerID string
		status     InstanceStatus
		want       Action
		message    []string // substrings of Message
	}{
		{"alive", id, InstanceAlive, Action{}, nil},
		{"terminated", id, InstanceTerminated, Action{Delete: true, Reason: ReasonInstanceTerminated}, []string{"deleting node n", id, "is terminated"}},
		{"gone", id, InstanceGone, Action{Delete: true, Reason: ReasonInstanceGone}, []string{"deleting node n", id, "unknown to the cloud"}},
		{"empty zone", "aws:////i-0123456789abcdef0", InstanceGone, Action{Delete: true, Reason: ReasonInstanceGone}, []string{"aws:////i-0123456789abcdef0"}},
		{"kind node", "kind://docker/kind/kind-worker", InstanceAlive, Action{Reason: ReasonNotInCloud}, []string{"node n", `"kind://docker/kind/kind-worker"`, "never deletes"}},
		{"kind node, status ignored", "kind://docker/kind/kind-worker", InstanceGone, Action{Reason: ReasonNotInCloud}, []string{"never deletes"}},
		{"no providerID", "", InstanceTerminated, Action{Reason: ReasonNotInCloud}, []string{`("")`}},
		{"aws without zone part", "aws://i-0123456789abcdef0", InstanceTerminated, Action{Reason: ReasonNotInCloud}, nil},
		{"aws with extra path", "aws:///us-east-1a/i-0123456789abcdef0/x", InstanceGone, Action{Reason: ReasonNotInCloud}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(node("n", tt.providerID), tt.status)
			if got.Delete != tt.want.Delete || got.Reason != tt.want.Reason {
				t.Errorf("Decide = %+v, want Delete %v Reason %q", got, tt.want.Delete, tt.want.Reason)
			}
			if tt.want.Reason == "" && got.Message != "" {
				t.Errorf("message %q for a Node left as it is", got.Message)
			}
			testenv.Contains(t, "message", got.Message, tt.message...)
		})
	}
}

func TestIsCloudProviderID(t *testing.T) {
	for id, want := range map[string]bool{
		"aws:///us-east-1a/i-0123456789abcdef0": true,
		"aws:///i-0123456789abcdef0":            false,
		"kind://docker/kind/node":               false,
		"":                                      false,
	} {
		if got := IsCloudProviderID(id); got != want {
			t.Errorf("IsCloudProviderID(%q) = %v", id, got)
		}
	}
}
