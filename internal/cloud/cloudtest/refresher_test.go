package cloudtest

import (
	"context"
	"errors"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestRefresher(t *testing.T) {
	ctx := context.Background()
	r := NewRefresher(map[string]int{"g": 4})
	prefs := cloud.RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 110}
	id, err := r.StartInstanceRefresh(ctx, "g", prefs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartInstanceRefresh(ctx, "g", prefs); !errors.Is(err, cloud.ErrRefreshInProgress) {
		t.Errorf("second start: %v, want ErrRefreshInProgress", err)
	}
	if _, err := r.StartInstanceRefresh(ctx, "nope", prefs); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("unknown group: %v, want ErrNotFound", err)
	}
	r.Advance("g", cloud.RefreshInProgress, 50)
	got, err := r.DescribeInstanceRefreshes(ctx, "g", id)
	if err != nil || len(got) != 1 || got[0].Status != cloud.RefreshInProgress || got[0].InstancesToUpdate != 2 || got[0].Preferences != prefs {
		t.Fatalf("describe = %+v, %v", got, err)
	}
	if cid, err := r.CancelInstanceRefresh(ctx, "g"); err != nil || cid != id {
		t.Fatalf("cancel = %s, %v", cid, err)
	}
	if _, err := r.CancelInstanceRefresh(ctx, "g"); !errors.Is(err, cloud.ErrNoActiveRefresh) || !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("second cancel: %v, want ErrNoActiveRefresh (an ErrNotFound)", err)
	}
	r.Advance("g", cloud.RefreshCancelled, 50)
	id2, err := r.StartInstanceRefresh(ctx, "g", prefs)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := r.DescribeInstanceRefreshes(ctx, "g")
	if len(all) != 2 || all[0].ID != id2 || all[1].ID != id || all[1].EndTime.IsZero() {
		t.Errorf("refreshes, newest first = %+v", all)
	}
}
