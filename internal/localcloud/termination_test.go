package localcloud

import (
	"slices"
	"testing"
	"time"
)

func TestTerminationPolicies(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Hour)
	v := func(id string, version int64, current bool, launched time.Duration) victim {
		return victim{ID: id, Zone: "a", Current: current, Version: version, LaunchTime: t0.Add(launched)}
	}
	insts := []victim{
		v("old-v1", 1, false, 0),                           // 3 h in: 0 min into its hour
		v("mid-v2", 2, false, 50*time.Minute),              // 2 h 10 min in
		v("new-v3", 3, true, 2*time.Hour),                  // 1 h in: 0 min
		v("newest-v3", 3, true, 2*time.Hour+5*time.Minute), // 55 min in
	}
	tests := []struct {
		policies []string
		want     string
	}{
		{nil, "old-v1"},
		{[]string{"Default"}, "old-v1"},
		{[]string{"AllocationStrategy"}, "old-v1"},
		{[]string{"OldestInstance"}, "old-v1"},
		{[]string{"NewestInstance"}, "newest-v3"},
		{[]string{"OldestLaunchTemplate"}, "old-v1"},
		{[]string{"OldestLaunchConfiguration"}, "old-v1"},
		{[]string{"ClosestToNextInstanceHour"}, "newest-v3"},
		{[]string{"NewestInstance", "OldestLaunchTemplate"}, "newest-v3"},
	}
	for _, tt := range tests {
		got := chooseVictims(insts, 1, scaleInRule{Zones: []string{"a"}, Policies: tt.policies, Now: now})
		if !slices.Equal(got, []string{tt.want}) {
			t.Errorf("policies %v chose %v, want %s", tt.policies, got, tt.want)
		}
	}
	// Zone balance comes before any policy.
	two := []victim{v("a-new", 3, true, time.Hour), {ID: "b-old", Zone: "b", LaunchTime: t0}, {ID: "b-old2", Zone: "b", LaunchTime: t0}}
	if got := chooseVictims(two, 1, scaleInRule{Zones: []string{"a", "b"}, Policies: []string{"NewestInstance"}, Now: now}); got[0] == "a-new" {
		t.Errorf("NewestInstance ignored zone balance: %v", got)
	}
	for _, p := range [][]string{{"Default"}, {"OldestInstance", "Default"}, terminationPolicies} {
		if err := checkTerminationPolicies(p); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
	for _, p := range [][]string{{"Oldest"}, {"arn:aws:lambda:us-east-1:123456789012:function:pick"}} {
		if err := checkTerminationPolicies(p); err == nil {
			t.Errorf("%v: no error", p)
		}
	}
}
