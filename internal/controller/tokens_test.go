package controller

import (
	"testing"
)

func TestDecideNode(t *testing.T) {
	tests := []struct {
		name   string
		status InstanceStatus
		known  bool
		want   NodeAction
	}{
		{"alive", InstanceAlive, true, NodeAction{}},
		{"terminated", InstanceTerminated, true, NodeAction{Delete: true, Reason: "InstanceTerminated"}},
		{"gone", InstanceGone, true, NodeAction{Delete: true, Reason: "InstanceGone"}},
		{"never in the cloud", InstanceGone, false, NodeAction{Reason: "NotInCloud"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecideNode(nil, tt.status, tt.known); got != tt.want {
				t.Errorf("DecideNode = %+v, want %+v", got, tt.want)
			}
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
