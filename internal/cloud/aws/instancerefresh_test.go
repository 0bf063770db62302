package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// TestInstanceRefreshOnLocalCloud starts, describes and cancels an
// instance refresh through the SDK against the local cloud, with its error
// codes mapped.
func TestInstanceRefreshOnLocalCloud(t *testing.T) {
	e := newEnv(t, envOptions{realClock: true})
	one := int32(1)
	group := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: &one})
	e.waitInService(group, 1)
	p := e.provider(Config{})
	ctx := context.Background()
	warmup := 5 * time.Second
	prefs := cloud.RefreshPreferences{MinHealthyPercentage: 100, MaxHealthyPercentage: 200, InstanceWarmup: &warmup}
	id, err := p.StartInstanceRefresh(ctx, group, prefs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.StartInstanceRefresh(ctx, group, prefs); !strings.Contains(errString(err), "InstanceRefreshInProgress") {
		t.Errorf("second start: %v, want InstanceRefreshInProgress", err)
	} else {
		wantIs(t, err, cloud.ErrRefreshInProgress)
	}
	_, err = p.StartInstanceRefresh(ctx, "missing", prefs)
	wantIs(t, err, cloud.ErrNotFound)

	got, err := p.DescribeInstanceRefreshes(ctx, group, id)
	if err != nil || len(got) != 1 {
		t.Fatalf("describe = %+v, %v", got, err)
	}
	r := got[0]
	if r.ID != id || r.Group != group || r.Status.Ended() || r.StartTime.IsZero() || r.Preferences.MinHealthyPercentage != 100 ||
		r.Preferences.MaxHealthyPercentage != 200 || r.Preferences.InstanceWarmup == nil || *r.Preferences.InstanceWarmup != warmup {
		t.Errorf("refresh = %+v", r)
	}
	// No DesiredConfiguration: the group keeps launching its own template
	// ($Latest), whatever token rotation writes later.
	raw, err := e.as.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: sdkaws.String(group)})
	if err != nil || len(raw.InstanceRefreshes) != 1 || raw.InstanceRefreshes[0].DesiredConfiguration != nil {
		t.Errorf("refresh as AWS reports it: %+v, %v", raw, err)
	}

	cancelled, err := p.CancelInstanceRefresh(ctx, group)
	if err != nil || cancelled != id {
		t.Fatalf("cancel = %q, %v", cancelled, err)
	}
	_, err = p.CancelInstanceRefresh(ctx, group)
	wantIs(t, err, cloud.ErrNoActiveRefresh)
	wantIs(t, err, cloud.ErrNotFound)
	all, err := p.DescribeInstanceRefreshes(ctx, group)
	if err != nil || len(all) != 1 || (all[0].Status != cloud.RefreshCancelling && all[0].Status != cloud.RefreshCancelled) {
		t.Errorf("after cancel: %+v, %v", all, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDescribeTemplateVersion reads numbered versions once and $Latest
// every time, and splits the data as Drift compares it.
func TestDescribeTemplateVersion(t *testing.T) {
	e := newEnv(t, envOptions{realClock: true})
	e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	p := e.provider(Config{})
	ctx := context.Background()
	m := pool.New(testCluster, pool.Deps{Cloud: p})
	if _, err := m.Update(ctx, "general", pool.Update{InstanceTypes: []string{"c5.large"}, UserData: []byte("#cloud-config\nv2\n")}); err != nil {
		t.Fatal(err)
	}
	name := pool.GroupName(testCluster, "general")
	v1, err := p.DescribeTemplateVersion(ctx, pool.TemplateRef{Name: name, Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := p.DescribeTemplateVersion(ctx, pool.TemplateRef{Name: name, Version: "$Latest"})
	if err != nil {
		t.Fatal(err)
	}
	if v1.InstanceType != "m5.large" || string(v1.UserData) != "#cloud-config\n" || v1.ImageID == "" || v1.Settings == "" ||
		strings.Contains(v1.Settings, "UserData\":\"") {
		t.Errorf("version 1 = %+v", v1)
	}
	if latest.InstanceType != "c5.large" || string(latest.UserData) != "#cloud-config\nv2\n" || latest.Settings != v1.Settings {
		t.Errorf("$Latest = %+v (settings %s, version 1's %s)", latest, latest.Settings, v1.Settings)
	}
	before := e.requests("DescribeLaunchTemplateVersions")
	for range 3 {
		if _, err := p.DescribeTemplateVersion(ctx, pool.TemplateRef{Name: name, Version: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests("DescribeLaunchTemplateVersions") - before; n != 0 {
		t.Errorf("version 1 read %d more times, want from the cache", n)
	}
	if _, err := p.DescribeTemplateVersion(ctx, pool.TemplateRef{Name: name, Version: "$Latest"}); err != nil {
		t.Fatal(err)
	}
	if n := e.requests("DescribeLaunchTemplateVersions") - before; n != 1 {
		t.Errorf("$Latest read %d times, want 1 (it moves)", n)
	}
	_, err = p.DescribeTemplateVersion(ctx, pool.TemplateRef{Name: name, Version: "9"})
	wantIs(t, err, cloud.ErrNotFound)
}
