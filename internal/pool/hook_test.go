package pool_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// fakeCloud is an in-memory pool.Cloud: groups, templates and lifecycle
// hooks, counting the hook puts.
type fakeCloud struct {
	mu        sync.Mutex
	groups    map[string]pool.GroupInfo
	templates map[string]pool.TemplateInfo
	hooks     map[string][]cloud.LifecycleHook
	puts      int
	putErr    error // fails every PutLifecycleHook
	noHooks   bool  // an endpoint without lifecycle hooks
}

var _ pool.Cloud = (*fakeCloud)(nil)

func newFakeCloud() *fakeCloud {
	return &fakeCloud{groups: map[string]pool.GroupInfo{}, templates: map[string]pool.TemplateInfo{}, hooks: map[string][]cloud.LifecycleHook{}}
}

func (f *fakeCloud) DescribeGroups(_ context.Context, flt pool.GroupFilter) ([]pool.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pool.GroupInfo
	for _, name := range slices.Sorted(maps.Keys(f.groups)) {
		g := f.groups[name]
		ok := len(flt.Names) == 0 || slices.Contains(flt.Names, name)
		for k, v := range flt.Tags {
			ok = ok && g.Tags[k] == v
		}
		for _, k := range flt.TagKeys {
			_, has := g.Tags[k]
			ok = ok && has
		}
		if ok {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeCloud) DescribeLaunchTemplate(_ context.Context, name string) (pool.TemplateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.templates[name]
	if !ok {
		return pool.TemplateInfo{}, fmt.Errorf("template %s: %w", name, cloud.ErrNotFound)
	}
	return t, nil
}

func (f *fakeCloud) DescribeTemplateVersion(_ context.Context, ref pool.TemplateRef) (pool.TemplateVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.templates[ref.Name]
	if !ok {
		return pool.TemplateVersion{}, fmt.Errorf("template %s: %w", ref.Name, cloud.ErrNotFound)
	}
	return pool.TemplateVersion{UserData: t.UserData}, nil
}

func (f *fakeCloud) CheckImage(context.Context, string) error { return nil }

func (f *fakeCloud) DefaultSubnets(context.Context) ([]string, error) {
	return []string{"subnet-0123456789abcdef0"}, nil
}

func (f *fakeCloud) ProfileRoles(context.Context, string) ([]string, error) {
	return []string{"kelp-node"}, nil
}

func (f *fakeCloud) DescribeLifecycleHooks(_ context.Context, group string) ([]cloud.LifecycleHook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noHooks {
		return nil, fmt.Errorf("describe lifecycle hooks of group %s: InvalidAction: %w", group, cloud.ErrUnsupported)
	}
	if _, ok := f.groups[group]; !ok {
		return nil, fmt.Errorf("describe lifecycle hooks of group %s: %w", group, cloud.ErrNotFound)
	}
	return slices.Clone(f.hooks[group]), nil
}

func (f *fakeCloud) PutLifecycleHook(_ context.Context, group string, h cloud.LifecycleHook) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return f.putErr
	}
	if f.noHooks {
		return fmt.Errorf("put lifecycle hook on group %s: InvalidAction: %w", group, cloud.ErrUnsupported)
	}
	f.puts++
	h.GlobalTimeout = min(48*time.Hour, 100*h.HeartbeatTimeout) // as AWS derives it
	hooks := slices.DeleteFunc(f.hooks[group], func(o cloud.LifecycleHook) bool { return o.Name == h.Name })
	f.hooks[group] = append(hooks, h)
	return nil
}

func (f *fakeCloud) CreateLaunchTemplate(_ context.Context, t pool.LaunchTemplate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tags := map[string]string{}
	for _, tag := range t.Tags {
		tags[tag.Key] = tag.Value
	}
	f.templates[t.Name] = pool.TemplateInfo{Name: t.Name, Tags: tags, UserData: t.UserData, Metadata: t.Metadata}
	return nil
}

func (f *fakeCloud) CreateLaunchTemplateVersion(context.Context, string, pool.TemplateChange) error {
	return nil
}

func (f *fakeCloud) DeleteLaunchTemplate(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.templates, name)
	return nil
}

func (f *fakeCloud) CreateGroup(_ context.Context, g pool.Group) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[g.Name]; ok {
		return fmt.Errorf("group %s: %w", g.Name, pool.ErrExists)
	}
	tags := map[string]string{}
	for _, tag := range g.Tags {
		tags[tag.Key] = tag.Value
	}
	f.groups[g.Name] = pool.GroupInfo{Name: g.Name, LaunchTemplate: g.LaunchTemplate, MinSize: g.MinSize, MaxSize: g.MaxSize, Desired: g.DesiredCapacity, Tags: tags}
	return nil
}

func (f *fakeCloud) UpdateGroup(context.Context, pool.GroupChange) error { return nil }

func (f *fakeCloud) DeleteGroup(_ context.Context, name string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.groups, name)
	delete(f.hooks, name)
	return nil
}

func (f *fakeCloud) SetTargetSize(context.Context, string, int) error { return nil }

func (f *fakeCloud) hookOf(group string) (cloud.LifecycleHook, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hooks[group] {
		if h.Name == pool.DrainHookName {
			return h, f.puts
		}
	}
	return cloud.LifecycleHook{}, f.puts
}

func TestDrainHookOnCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCloud()
	m := pool.New("prod", pool.Deps{Cloud: fc})
	p, err := m.Create(ctx, generalSpec(), pool.StaticUserData("#cloud-config\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := cloud.LifecycleHook{Name: "kelp-drain", Transition: "autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout: 300 * time.Second,
		GlobalTimeout: 30000 * time.Second, DefaultResult: cloud.LifecycleContinue, Metadata: `{"cluster":"prod","group":"kelp-prod-general","pool":"general"}`}
	if h, puts := fc.hookOf("kelp-prod-general"); h != want || puts != 1 {
		t.Fatalf("hook after create = %+v (%d puts), want %+v", h, puts, want)
	}
	if p.DrainHook == nil || *p.DrainHook != want {
		t.Errorf("created pool's DrainHook = %+v", p.DrainHook)
	}

	// An update of something else keeps the hook and puts nothing.
	if _, err := m.Update(ctx, "general", pool.Update{UserData: []byte("#cloud-config\nv2\n")}); err != nil {
		t.Fatal(err)
	}
	if h, puts := fc.hookOf("kelp-prod-general"); h != want || puts != 1 {
		t.Errorf("after an update of the user-data: hook %+v, %d puts; want it unchanged, 1 put", h, puts)
	}
	// A changed heartbeat timeout is put, once.
	for range 2 {
		if p, err = m.Update(ctx, "general", pool.Update{DrainHeartbeatTimeout: 90 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	h, puts := fc.hookOf("kelp-prod-general")
	if h.HeartbeatTimeout != 90*time.Second || h.GlobalTimeout != 9000*time.Second || h.DefaultResult != cloud.LifecycleContinue || puts != 2 {
		t.Errorf("after updating the heartbeat twice: %+v, %d puts; want 90 s, 2 puts", h, puts)
	}
	if p.DrainHook == nil || p.DrainHook.HeartbeatTimeout != 90*time.Second {
		t.Errorf("updated pool's DrainHook = %+v", p.DrainHook)
	}
	_, err = m.Update(ctx, "general", pool.Update{DrainHeartbeatTimeout: 10 * time.Second})
	testenv.ErrorContains(t, err, "drainHeartbeatTimeout 10s: want whole seconds from 30s to 2h0m0s")

	// A pool whose hook is gone (made before kelp put one) gets it back on
	// its next update, with the default timeout.
	fc.mu.Lock()
	fc.hooks["kelp-prod-general"] = nil
	fc.mu.Unlock()
	if pools, err := m.List(ctx); err != nil || len(pools) != 1 || pools[0].DrainHook != nil {
		t.Fatalf("List of a pool without its hook = %+v, %v", pools, err)
	}
	if _, err := m.Update(ctx, "general", pool.Update{UserData: []byte("#cloud-config\nv3\n")}); err != nil {
		t.Fatal(err)
	}
	if h, _ := fc.hookOf("kelp-prod-general"); h != want {
		t.Errorf("hook put back by an update = %+v, want %+v", h, want)
	}
}

func TestDrainHookSpecTimeoutAndFailures(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCloud()
	m := pool.New("prod", pool.Deps{Cloud: fc})
	spec := generalSpec()
	spec.DrainHeartbeatTimeout = &metav1.Duration{Duration: 30 * time.Second}
	if _, err := m.Create(ctx, spec, pool.StaticUserData(nil)); err != nil {
		t.Fatal(err)
	}
	if h, _ := fc.hookOf("kelp-prod-general"); h.HeartbeatTimeout != 30*time.Second {
		t.Errorf("hook of a pool with a 30 s heartbeat: %+v", h)
	}

	// A hook that cannot be put fails the create, naming the way out.
	fc.putErr = errors.New("AccessDenied")
	spec = generalSpec()
	spec.Name = "other"
	_, err := m.Create(ctx, spec, pool.StaticUserData(nil))
	testenv.ErrorContains(t, err, "the group exists without its drain hook (kelp pool update other puts it)", "AccessDenied")
	fc.putErr = nil
	if _, err := m.Update(ctx, "other", pool.Update{UserData: []byte("#cloud-config\n")}); err != nil {
		t.Fatal(err)
	}
	if h, _ := fc.hookOf("kelp-prod-other"); h.Name != pool.DrainHookName {
		t.Errorf("update did not put the missing hook: %+v", h)
	}
}

func TestDrainHookTokenRotationLeavesHook(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCloud()
	tokens := &fakeTokens{}
	m := pool.New("prod", pool.Deps{Cloud: fc, Tokens: tokens})
	if _, err := m.Create(ctx, generalSpec(), tokenJoin(t, tokens)); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	fc.hooks["kelp-prod-general"] = nil
	fc.mu.Unlock()
	if _, err := m.RotateToken(ctx, "general", bootstrap.TokenSpec{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if h, puts := fc.hookOf("kelp-prod-general"); h.Name != "" || puts != 1 {
		t.Errorf("token rotation put the drain hook (%+v, %d puts): the controller does not manage hooks", h, puts)
	}
}

func TestAdoptHook(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCloud()
	fc.groups["legacy-workers"] = pool.GroupInfo{Name: "legacy-workers", Tags: map[string]string{"kubernetes.io/cluster/prod": "owned"}}
	fc.groups["someone-elses"] = pool.GroupInfo{Name: "someone-elses", Tags: map[string]string{"kubernetes.io/cluster/staging": "owned"}}
	m := pool.New("prod", pool.Deps{Cloud: fc})
	h, err := m.AdoptHook(ctx, "legacy-workers", 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.HeartbeatTimeout != 300*time.Second || h.Metadata != `{"cluster":"prod","group":"legacy-workers"}` {
		t.Errorf("adopted hook = %+v", h)
	}
	// Again, with another timeout, then with none (keeps it).
	if _, err := m.AdoptHook(ctx, "legacy-workers", 600*time.Second); err != nil {
		t.Fatal(err)
	}
	if h, err = m.AdoptHook(ctx, "legacy-workers", 0); err != nil || h.HeartbeatTimeout != 600*time.Second {
		t.Errorf("adopting again without a timeout = %+v, %v; want 600 s kept", h, err)
	}
	if _, puts := fc.hookOf("legacy-workers"); puts != 2 {
		t.Errorf("%d puts for three adoptions with two settings", puts)
	}
	_, err = m.AdoptHook(ctx, "someone-elses", 0)
	testenv.ErrorContains(t, err, "not tagged kubernetes.io/cluster/prod=owned")
	if _, err := m.AdoptHook(ctx, "nope", 0); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("adopting a missing group: %v, want ErrNotFound", err)
	}
	_, err = m.AdoptHook(ctx, "legacy-workers", 7201*time.Second)
	testenv.ErrorContains(t, err, "heartbeat timeout 2h0m1s")
	// Adopting on an endpoint without hooks fails loud.
	fc.noHooks = true
	_, err = m.AdoptHook(ctx, "legacy-workers", 0)
	if !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "does not implement lifecycle hooks") {
		t.Errorf("adopting without hooks: %v", err)
	}
}

func TestDrainHeartbeatTimeoutBounds(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		30 * time.Second: true, 7200 * time.Second: true, 300 * time.Second: true,
		29 * time.Second: false, 7201 * time.Second: false, 90500 * time.Millisecond: false, 0: false,
	} {
		if err := pool.ValidateDrainHeartbeatTimeout("--drain-heartbeat-timeout", d); (err == nil) != ok {
			t.Errorf("ValidateDrainHeartbeatTimeout(%s) = %v", d, err)
		} else if err != nil && !strings.Contains(err.Error(), "--drain-heartbeat-timeout "+d.String()) {
			t.Errorf("error %q does not name the flag and value", err)
		}
	}
}

// An endpoint without lifecycle hooks fails create loud (the group stands,
// without its hook) and list.
func TestEndpointWithoutHooks(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCloud()
	fc.noHooks = true
	m := pool.New("prod", pool.Deps{Cloud: fc})
	_, err := m.Create(ctx, generalSpec(), pool.StaticUserData(nil))
	testenv.ErrorContains(t, err, "without its drain hook", "does not implement lifecycle hooks")
	if _, err := m.List(ctx); !errors.Is(err, cloud.ErrUnsupported) {
		t.Errorf("List without hooks: %v, want ErrUnsupported", err)
	}
}
