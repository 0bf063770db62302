package aws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// testCluster is the cluster name of most tests.
const testCluster = "dev"

// testStart is the fake clock's start.
var testStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testLogger() *slog.Logger {
	if os.Getenv("KELP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// env is a local cloud served on 127.0.0.1, with a request counter, SDK
// clients for setting things up, and pools made by internal/pool through
// the adapter.
type env struct {
	t       *testing.T
	clock   *clocktesting.FakeClock // nil with the real clock
	cloud   *localcloud.Cloud
	url     string
	counter *requestCounter
	as      *autoscaling.Client
	ec2     *ec2.Client
}

type envOptions struct {
	realClock bool
	faults    localcloud.Faults
	runtime   localcloud.Runtime // default NopRuntime
	roles     []localcloud.Role
	profiles  []localcloud.InstanceProfile
}

// newEnv starts a local cloud, on a fake clock unless realClock is set.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, counter: &requestCounter{counts: map[string]int{}, retries: map[string]int{}}}
	if o.runtime == nil {
		o.runtime = localcloud.NopRuntime{}
	}
	opts := localcloud.Options{Dir: t.TempDir(), Runtime: o.runtime, Faults: o.faults,
		Rand: rand.NewPCG(7, 11), Logger: testLogger(), ReconcileInterval: 10 * time.Second,
		Roles: o.roles, InstanceProfiles: o.profiles}
	if !o.realClock {
		e.clock = clocktesting.NewFakeClock(testStart)
		opts.Clock = e.clock
	}
	c, err := localcloud.Open(opts)
	if err != nil {
		t.Fatalf("open local cloud: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start local cloud: %v", err)
	}
	srv := httptest.NewServer(e.counter.wrap(c))
	t.Cleanup(func() {
		srv.Close()
		if err := c.Close(); err != nil {
			t.Errorf("close local cloud: %v", err)
		}
	})
	e.cloud, e.url = c, srv.URL
	cfg := sdkaws.Config{Region: localcloud.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")}
	e.as = autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	e.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = sdkaws.String(srv.URL) })
	return e
}

// provider builds a provider through New, as production does, pointed at
// the local cloud with its static credentials. ClusterName defaults to
// testCluster.
func (e *env) provider(cfg Config) *Provider {
	e.t.Helper()
	p, err := e.newProvider(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return p
}

func (e *env) newProvider(cfg Config) (*Provider, error) {
	if cfg.ClusterName == "" {
		cfg.ClusterName = testCluster
	}
	cfg.Endpoint, cfg.Region = e.url, localcloud.DefaultRegion
	var clk clock.Clock = clock.RealClock{}
	if e.clock != nil {
		clk = e.clock
	}
	return New(context.Background(), cfg, Deps{Clock: clk, Logger: testLogger(),
		Credentials: credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")})
}

// createPool creates a pool of cluster through internal/pool and returns
// its group name.
func (e *env) createPool(cluster string, spec pool.Spec) string {
	e.t.Helper()
	if spec.ImageID == "" {
		spec.ImageID = localcloud.ImageLocalNode
	}
	adapter, err := e.newProvider(Config{ClusterName: cluster, Retry: RetryConfig{MaxBackoff: 20 * time.Millisecond, ThrottleBackoff: 10 * time.Millisecond}})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	m := pool.New(cluster, pool.Deps{Cloud: adapter})
	p, err := m.Create(context.Background(), spec, pool.StaticUserData("#cloud-config\n"))
	if err != nil {
		e.t.Fatalf("create pool %s: %v", spec.Name, err)
	}
	return p.GroupName
}

// tagGroup sets tags on a group.
func (e *env) tagGroup(group string, kv ...string) {
	e.t.Helper()
	in := &autoscaling.CreateOrUpdateTagsInput{}
	for i := 0; i+1 < len(kv); i += 2 {
		in.Tags = append(in.Tags, astypes.Tag{Key: sdkaws.String(kv[i]), Value: sdkaws.String(kv[i+1]),
			ResourceId: sdkaws.String(group), ResourceType: sdkaws.String("auto-scaling-group"), PropagateAtLaunch: sdkaws.Bool(false)})
	}
	if _, err := e.as.CreateOrUpdateTags(context.Background(), in); err != nil {
		e.t.Fatalf("tag group %s: %v", group, err)
	}
}

// group describes one group directly.
func (e *env) group(name string) astypes.AutoScalingGroup {
	e.t.Helper()
	out, err := e.as.DescribeAutoScalingGroups(context.Background(),
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		e.t.Fatalf("describe group %s: %v (%d groups)", name, err, len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0]
}

// waitInService waits until the group has n instances, all InService.
func (e *env) waitInService(name string, n int) []astypes.Instance {
	e.t.Helper()
	var got []astypes.Instance
	testenv.EventuallyTrue(e.t, waitTimeout, name+" in service", func() bool {
		got = e.group(name).Instances
		if len(got) != n {
			return false
		}
		for _, i := range got {
			if i.LifecycleState != astypes.LifecycleStateInService {
				return false
			}
		}
		return true
	})
	return got
}

// requests returns how many calls of an action the cloud received: first
// attempts, throttled ones included; the SDK's retries of a call are not
// counted (counter.total counts them).
func (e *env) requests(action string) int { return e.counter.get(action) }

// requestCounter counts requests per action in front of the cloud.
type requestCounter struct {
	mu      sync.Mutex
	counts  map[string]int // first attempts, by action
	retries map[string]int // the SDK's later attempts, by action
}

func (c *requestCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		c.mu.Lock()
		if isSDKRetry(r) {
			c.retries[form.Get("Action")]++
		} else {
			c.counts[form.Get("Action")]++
		}
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// isSDKRetry tells whether a request is the SDK's second or later attempt
// of one call (its amz-sdk-request header says attempt=N).
func isSDKRetry(r *http.Request) bool {
	h := r.Header.Get("Amz-Sdk-Request")
	return h != "" && !strings.HasPrefix(h, "attempt=1;") && h != "attempt=1"
}

// get returns the calls of an action: first attempts only, so that a
// transport error the SDK retried (a reset connection on a loaded machine)
// does not count as a call kelp made.
func (c *requestCounter) get(action string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[action]
}

// total returns every request the cloud received, the SDK's retries
// included.
func (c *requestCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	for _, v := range c.retries {
		n += v
	}
	return n
}

// waitTimeout bounds each wait of these tests for the local cloud.
const waitTimeout = 20 * time.Second

// nodeGroup refreshes and returns the group called id.
func nodeGroup(t *testing.T, p *Provider, id string) cloud.NodeGroup {
	t.Helper()
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	groups, err := p.NodeGroups(context.Background())
	if err != nil {
		t.Fatalf("NodeGroups: %v", err)
	}
	for _, g := range groups {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("node group %s not found among %d groups", id, len(groups))
	return cloud.NodeGroup{}
}

// wantIs fails unless errors.Is(err, target).
func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v: want one matching %v", err, target)
	}
}

var bg = context.Background()

func int32p(v int32) *int32 { return &v }
