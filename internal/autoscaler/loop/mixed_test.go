package loop

import (
	"slices"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// mixedGroup is testGroup offering every type of types, in order.
func mixedGroup(t *testing.T, id string, cloudPicks bool, types ...string) cloud.NodeGroup {
	t.Helper()
	g := testGroup(t, id, types[0], 0, 10)
	for _, name := range types[1:] {
		g.Template.InstanceTypes = append(g.Template.InstanceTypes, testGroup(t, id, name, 0, 10).Template.InstanceTypes[0])
	}
	g.Template.CloudPicksType = cloudPicks
	return g
}

// TestGroupWhoseCloudPicksTheType: a pod only m5.xlarge fits does not grow
// a group whose cloud picks between m5.large and m5.xlarge (it would get
// an m5.large and grow again every cycle, up to its max); it says why. A
// pod its smallest type fits grows it, and a group of one size is planned
// with its types as before.
func TestGroupWhoseCloudPicksTheType(t *testing.T) {
	t.Run("a pod only the larger type fits", func(t *testing.T) {
		h := newHarness(t, Options{}, mixedGroup(t, "spot", true, "m5.xlarge", "m5.large"))
		h.pods("three", 1, "3", nil)
		h.waitUnschedulable(1)
		c := h.runOnce()
		if got := h.cloud.setCalls(); len(got) != 0 {
			t.Fatalf("scaled up %v for a pod only one of the group's types fits", got)
		}
		if ev := matching(h.drainEvents(), ReasonNotTriggerScaleUp, "spot: Insufficient cpu"); len(ev) != 1 || len(c.Plan.Unschedulable) != 1 {
			t.Fatalf("NotTriggerScaleUp events %v, unschedulable %v; want the pod left, naming spot's cpu", ev, c.Plan.Unschedulable)
		}
	})
	t.Run("a pod the smallest type fits", func(t *testing.T) {
		h := newHarness(t, Options{}, mixedGroup(t, "spot", true, "m5.xlarge", "m5.large"))
		h.pods("one", 1, "1", nil)
		h.waitUnschedulable(1)
		c := h.runOnce()
		if got := h.cloud.setCalls(); !slices.Equal(got, []string{"spot=1"}) || c.Plan.Increases[0].InstanceType != "m5.large" {
			t.Fatalf("scale-ups %v, plan %+v; want one m5.large", got, c.Plan.Increases)
		}
	})
	t.Run("a group whose type kelp chooses", func(t *testing.T) {
		h := newHarness(t, Options{}, mixedGroup(t, "ondemand", false, "m5.large", "m5.xlarge"))
		h.pods("three", 1, "3", nil)
		h.waitUnschedulable(1)
		c := h.runOnce()
		if got := h.cloud.setCalls(); !slices.Equal(got, []string{"ondemand=1"}) || len(c.Plan.Increases) != 1 || c.Plan.Increases[0].InstanceType != "m5.xlarge" {
			t.Fatalf("scale-ups %v, plan %+v; want one m5.xlarge", got, c.Plan.Increases)
		}
	})
}
