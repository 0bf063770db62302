package autoscaler

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestPlanRecovery(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	insts := func(n int, launched time.Time) []cloud.Instance {
		var out []cloud.Instance
		for i := range n {
			out = append(out, cloud.Instance{ID: fmt.Sprintf("i-%d", i), LaunchTime: launched})
		}
		return out
	}
	group := func(id string, minSize, target int) cloud.NodeGroup {
		return cloud.NodeGroup{ID: id, MinSize: minSize, TargetSize: target, MaxSize: 10}
	}
	capacity := cloud.GroupError{Err: cloud.ErrInsufficientCapacity, Group: "a", Message: "no capacity", ActivityID: "x"}
	quota := cloud.GroupError{Err: cloud.ErrQuotaExceeded, Group: "a", Message: "quota", ActivityID: "y"}
	type want struct {
		group              string
		terminate, kept    []string
		backOff            string // a substring; "" means not backed off
		kinds              []string
		lowerTo            int // after the terminations succeeded; -1: not lowered
		lowerToIfTermFails int // -1: not lowered
	}
	for _, tc := range []struct {
		name         string
		groups       []cloud.NodeGroup
		launches     []cloud.GroupError
		unregistered map[string][]cloud.Instance
		existing     map[string]int
		want         []want
	}{
		{name: "nothing failed", groups: []cloud.NodeGroup{group("a", 0, 2)},
			unregistered: map[string][]cloud.Instance{"a": insts(2, now.Add(-time.Minute))}, existing: map[string]int{"a": 2}},
		{name: "failed launch: back off, lower the target to what exists",
			groups: []cloud.NodeGroup{group("a", 0, 3)}, launches: []cloud.GroupError{capacity, quota},
			existing: map[string]int{"a": 1},
			want: []want{{group: "a", backOff: "launch failed: group a: quota exceeded", kinds: []string{KindInsufficientCapacity, KindQuotaExceeded},
				lowerTo: 1, lowerToIfTermFails: 1}}},
		{name: "failed launch lowered no further than min size",
			groups: []cloud.NodeGroup{group("a", 2, 3)}, launches: []cloud.GroupError{capacity}, existing: map[string]int{"a": 0},
			want: []want{{group: "a", backOff: "no capacity", kinds: []string{KindInsufficientCapacity}, lowerTo: 2, lowerToIfTermFails: 2}}},
		{name: "failed launch of an unknown group: backed off, nothing lowered",
			launches: []cloud.GroupError{capacity},
			want:     []want{{group: "a", backOff: "no capacity", kinds: []string{KindInsufficientCapacity}, lowerTo: -1, lowerToIfTermFails: -1}}},
		{name: "stuck instances are terminated and the group backed off",
			groups:       []cloud.NodeGroup{group("a", 0, 3)},
			unregistered: map[string][]cloud.Instance{"a": append(insts(2, now.Add(-10*time.Minute)), cloud.Instance{ID: "i-new", LaunchTime: now})},
			existing:     map[string]int{"a": 3},
			// Terminating 2 lowers the target to 1, which is what exists.
			want: []want{{group: "a", terminate: []string{"i-0", "i-1"}, backOff: "2 instance(s) did not register a node within 10m0s",
				kinds: []string{KindProvisionTimeout}, lowerTo: -1, lowerToIfTermFails: -1}}},
		{name: "stuck instances and a failed launch: both kinds counted, the timeout says why",
			groups: []cloud.NodeGroup{group("a", 0, 4)}, launches: []cloud.GroupError{capacity},
			unregistered: map[string][]cloud.Instance{"a": insts(1, now.Add(-time.Hour))}, existing: map[string]int{"a": 2},
			want: []want{{group: "a", terminate: []string{"i-0"}, backOff: "did not register", kinds: []string{KindInsufficientCapacity, KindProvisionTimeout},
				lowerTo: 1, lowerToIfTermFails: 2}}},
		{name: "instances a group at its min size needs are kept, without backoff",
			groups:       []cloud.NodeGroup{group("a", 2, 2)},
			unregistered: map[string][]cloud.Instance{"a": insts(2, now.Add(-time.Hour))}, existing: map[string]int{"a": 2},
			want: []want{{group: "a", kept: []string{"i-0", "i-1"}, lowerTo: -1, lowerToIfTermFails: -1}}},
		{name: "above min size only the surplus is terminated",
			groups:       []cloud.NodeGroup{group("a", 1, 3)},
			unregistered: map[string][]cloud.Instance{"a": insts(3, now.Add(-time.Hour))}, existing: map[string]int{"a": 3},
			want: []want{{group: "a", terminate: []string{"i-0", "i-1"}, kept: []string{"i-2"}, backOff: "2 instance(s)",
				kinds: []string{KindProvisionTimeout}, lowerTo: -1, lowerToIfTermFails: -1}}},
		{name: "an instance without a launch time is never stuck",
			groups:       []cloud.NodeGroup{group("a", 0, 1)},
			unregistered: map[string][]cloud.Instance{"a": {{ID: "i-0"}}}, existing: map[string]int{"a": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := PlanRecovery(RecoveryInput{Groups: tc.groups, Launches: tc.launches, Unregistered: tc.unregistered,
				Existing: tc.existing, MaxNodeProvisionTime: 10 * time.Minute, Now: now})
			if len(rec.Groups) != len(tc.want) {
				t.Fatalf("recovery %+v, want %d group(s)", rec.Groups, len(tc.want))
			}
			for i, w := range tc.want {
				r := rec.Groups[i]
				if r.Group != w.group || !reflect.DeepEqual(r.Terminate, w.terminate) || !reflect.DeepEqual(r.Kept, w.kept) ||
					!reflect.DeepEqual(r.Kinds, w.kinds) {
					t.Errorf("group %d = %+v, want %+v", i, r, w)
				}
				if (w.backOff == "") != (r.BackOff == "") || !strings.Contains(r.BackOff, w.backOff) {
					t.Errorf("%s backoff %q, want %q", r.Group, r.BackOff, w.backOff)
				}
				for _, c := range []struct {
					terminated, want int
				}{{len(r.Terminate), w.lowerTo}, {0, w.lowerToIfTermFails}} {
					got, lower := r.LowerTo(c.terminated)
					if !lower {
						got = -1
					}
					if got != c.want {
						t.Errorf("%s LowerTo(%d) = %d, want %d", r.Group, c.terminated, got, c.want)
					}
				}
			}
		})
	}
}

func TestSettleScaleUps(t *testing.T) {
	groups := []cloud.NodeGroup{{ID: "g"}, {ID: "h"}, {ID: "i"}}
	for _, tc := range []struct {
		name               string
		growing, ready     map[string]int
		failed             map[string]string
		succeeded, settled []string
	}{
		{name: "nodes not all Ready yet", growing: map[string]int{"g": 2}, ready: map[string]int{"g": 1}},
		{name: "all Ready: succeeded", growing: map[string]int{"g": 2}, ready: map[string]int{"g": 2},
			succeeded: []string{"g"}, settled: []string{"g"}},
		{name: "failed again: over, not succeeded", growing: map[string]int{"g": 2, "h": 1}, ready: map[string]int{"g": 3},
			failed: map[string]string{"h": "again"}, succeeded: []string{"g"}, settled: []string{"g", "h"}},
		{name: "a failed group not growing is no concern", failed: map[string]string{"i": "x"}},
		{name: "a group not among groups is left", growing: map[string]int{"gone": 1}, ready: map[string]int{"gone": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SettleScaleUps(groups, tc.growing, tc.ready, tc.failed)
			if !reflect.DeepEqual(got.Succeeded, tc.succeeded) || !reflect.DeepEqual(got.Over, tc.settled) {
				t.Fatalf("SettleScaleUps = %+v, want succeeded %v, over %v", got, tc.succeeded, tc.settled)
			}
		})
	}
}
