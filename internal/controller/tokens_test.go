package controller

import (
	"testing"
	"time"
)

func TestNeedsRotation(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ttl := 24 * time.Hour
	tests := []struct {
		name    string
		found   bool
		expires time.Time
		want    bool
	}{
		{"token gone", false, time.Time{}, true},
		{"fresh", true, now.Add(23 * time.Hour), false},
		{"just over a third left", true, now.Add(8*time.Hour + time.Minute), false},
		{"under a third left", true, now.Add(7 * time.Hour), true},
		{"expired", true, now.Add(-time.Minute), true},
	}
	// A short TTL rotates at least two periods before expiry.
	if !NeedsRotation(true, now.Add(90*time.Second), now, 2*time.Minute, time.Minute) {
		t.Error("a token expiring within two rotation periods was not rotated")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRotation(tt.found, tt.expires, now, ttl, time.Minute); got != tt.want {
				t.Errorf("NeedsRotation = %v, want %v", got, tt.want)
			}
		})
	}
}

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
