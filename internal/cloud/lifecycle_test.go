package cloud

import (
	"slices"
	"testing"
)

func TestWaitingToTerminate(t *testing.T) {
	tests := []struct {
		state InstanceState
		cloud string
		want  bool
	}{
		{InstanceStateTerminating, LifecycleTerminatingWait, true},
		{InstanceStateTerminating, LifecycleTerminatingProceed, false},
		{InstanceStateTerminating, "shutting-down", false},
		{InstanceStatePending, LifecyclePendingWait, false},
		{InstanceStateRunning, "InService", false},
		{InstanceStateRunning, LifecycleTerminatingWait, false}, // inconsistent: the state decides
	}
	for _, tt := range tests {
		i := Instance{State: tt.state, CloudState: tt.cloud}
		if got := i.WaitingToTerminate(); got != tt.want {
			t.Errorf("%s (%s): WaitingToTerminate = %v, want %v", tt.state, tt.cloud, got, tt.want)
		}
	}
	groups := []NodeGroup{
		{ID: "a", Instances: []Instance{
			{ID: "i-1", State: InstanceStateTerminating, CloudState: LifecycleTerminatingWait},
			{ID: "i-2", State: InstanceStateRunning, CloudState: "InService"},
		}},
		{ID: "b", Instances: []Instance{
			{ID: "i-3", State: InstanceStateTerminating, CloudState: LifecycleTerminatingProceed},
			{ID: "i-4", State: InstanceStateTerminating, CloudState: LifecycleTerminatingWait},
		}},
	}
	var ids []string
	for _, i := range WaitingToTerminate(groups) {
		ids = append(ids, i.ID)
	}
	if !slices.Equal(ids, []string{"i-1", "i-4"}) {
		t.Errorf("WaitingToTerminate = %v, want i-1 and i-4", ids)
	}
}

func TestLifecycleResultValidate(t *testing.T) {
	for r, ok := range map[LifecycleResult]bool{LifecycleContinue: true, LifecycleAbandon: true, "continue": false, "": false} {
		if err := r.Validate(); (err == nil) != ok {
			t.Errorf("%q.Validate() = %v", r, err)
		}
	}
}
