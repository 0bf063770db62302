package cloud

import (
	"strings"
	"testing"
	"time"
)

func TestRefreshPreferencesValidate(t *testing.T) {
	sec, half := 30*time.Second, 1500*time.Millisecond
	tests := []struct {
		name  string
		prefs RefreshPreferences
		want  string // "" valid
	}{
		{"launch before terminate", RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 110}, ""},
		{"terminate first", RefreshPreferences{MinHealthyPercentage: 90, MaxHealthyPercentage: 100}, ""},
		{"warmup", RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 200, InstanceWarmup: &sec}, ""},
		{"min above 100", RefreshPreferences{MinHealthyPercentage: 101, MaxHealthyPercentage: 150}, "min healthy percentage 101"},
		{"min negative", RefreshPreferences{MinHealthyPercentage: -1, MaxHealthyPercentage: 100}, "min healthy percentage -1"},
		{"max below 100", RefreshPreferences{MinHealthyPercentage: 90, MaxHealthyPercentage: 99}, "max healthy percentage 99"},
		{"max above 200", RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 201}, "max healthy percentage 201"},
		{"too far apart", RefreshPreferences{MinHealthyPercentage: 50, MaxHealthyPercentage: 160}, "at most 100 apart"},
		{"both 100", RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 100}, "no instance could be replaced"},
		{"warmup not whole seconds", RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 110, InstanceWarmup: &half}, "instance warmup 1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.prefs.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRefreshStatusEnded(t *testing.T) {
	for s, want := range map[RefreshStatus]bool{RefreshPending: false, RefreshInProgress: false, RefreshCancelling: false,
		RefreshBaking: false, RefreshRollbackInProgress: false, RefreshSuccessful: true, RefreshFailed: true, RefreshCancelled: true,
		RefreshRollbackFailed: true, RefreshRollbackSuccessful: true} {
		if s.Ended() != want {
			t.Errorf("%s.Ended() = %v, want %v", s, !want, want)
		}
	}
}
