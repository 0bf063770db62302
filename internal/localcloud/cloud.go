package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of Options.
const (
	DefaultReconcileInterval   = 10 * time.Second
	DefaultTerminatedRetention = time.Hour
	// DefaultRoleCredentialsTTL is how long role credentials last, as
	// EC2's instance profile credentials do (about six hours).
	DefaultRoleCredentialsTTL = 6 * time.Hour
	maxActivitiesPerGroup     = 500
)

// Options configure a Cloud. Dir is required; everything else has a default.
type Options struct {
	// Dir holds the state (StateFile). Restarting with the same Dir brings
	// back the same groups, templates and instances.
	Dir string
	// Region is the simulated region; default DefaultRegion.
	Region string
	// AddressBlock picks the instances' addresses, so that local clouds on
	// one machine do not hand out the same ones: zone i of block b has
	// subnet 127.(3b+i+1).0.0/16. 0 to AddressBlocks-1; default 0.
	// Instances keep their addresses across restarts, so a Dir keeps its
	// block.
	AddressBlock int
	// Runtime boots and stops instances; default NopRuntime.
	Runtime Runtime
	// Faults to simulate; default none.
	Faults Faults
	// Clock drives reconcile ticks, boot delays, spot notices and
	// timestamps; default the real clock.
	Clock clock.WithTickerAndDelayedExecution
	// Rand drives every simulated fault and random boot delay; default a
	// randomly seeded PCG. Tests pass a seeded source.
	Rand rand.Source
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// ReconcileInterval is the period of the reconcile loop (it also runs on
	// every change); default DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// TerminatedRetention is how long terminated instances stay visible in
	// DescribeInstances; default DefaultTerminatedRetention.
	TerminatedRetention time.Duration
	// Principals are callers beside DefaultPrincipal, each with its keys
	// and its Authorizer (Policies enforces IAM policies;
	// LoadPrincipals reads them from a file).
	Principals []Principal
	// Roles and InstanceProfiles are the account's IAM roles and instance
	// profiles: a launch template's IamInstanceProfile names a profile,
	// and the metadata service ([Cloud.Metadata]) hands its instances
	// temporary credentials of the profile's role.
	Roles            []Role
	InstanceProfiles []InstanceProfile
	// RoleCredentialsTTL is how long an instance's role credentials last;
	// new ones are served once a quarter of it is left. Default
	// DefaultRoleCredentialsTTL.
	RoleCredentialsTTL time.Duration
}

// Cloud is the local cloud: the API endpoint (it is an http.Handler), the
// state and the reconcile loop. It is safe for concurrent use.
type Cloud struct {
	region     region
	runtime    Runtime
	clock      clock.WithTickerAndDelayedExecution
	rnd        *lockedRand
	log        *slog.Logger
	interval   time.Duration
	retention  time.Duration
	store      *store
	services   services
	principals *principals
	idem       idempotency
	sqs        *sqsState    // SQS queues (sqs*.go)
	events     *eventsState // the event bus (events*.go)
	iam        *iamState    // roles, instance profiles, role credentials (iam_roles.go, imds.go)
	credsTTL   time.Duration

	mu      sync.Mutex
	st      *state
	faults  Faults
	timers  map[string]clock.Timer // boot and spot-notice timers by instance id
	retryAt map[string]time.Time   // groups whose last launch failed: no launch before
	ctx     context.Context        // set by Start; ends at Close
	cancel  context.CancelFunc
	started bool
	closed  bool

	kick chan struct{}
	wg   sync.WaitGroup
}

// Open opens the state in opts.Dir and returns a Cloud that serves the API
// at once. Instances start booting and groups reconciling at Start.
func Open(opts Options) (*Cloud, error) {
	if opts.Dir == "" {
		return nil, errors.New("open local cloud: Options.Dir is required")
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("open local cloud: faults: %w", err)
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	reg, err := newRegion(opts.Region, opts.AddressBlock)
	if err != nil {
		return nil, fmt.Errorf("open local cloud: %w", err)
	}
	c := &Cloud{
		region:     reg,
		runtime:    opts.Runtime,
		clock:      opts.Clock,
		rnd:        newLockedRand(opts.Rand),
		log:        opts.Logger,
		interval:   opts.ReconcileInterval,
		retention:  opts.TerminatedRetention,
		faults:     opts.Faults,
		timers:     map[string]clock.Timer{},
		retryAt:    map[string]time.Time{},
		kick:       make(chan struct{}, 1),
		principals: newPrincipals(DefaultPrincipal()),
		credsTTL:   opts.RoleCredentialsTTL,
	}
	c.setDefaults()
	if c.iam, err = newIAMState(opts.Roles, opts.InstanceProfiles, c.clock.Now()); err != nil {
		return nil, fmt.Errorf("open local cloud: %w", err)
	}
	for _, p := range opts.Principals {
		if err := c.principals.add(p); err != nil {
			return nil, fmt.Errorf("open local cloud: principal %s: %w", p.Name, err)
		}
	}
	if c.store, err = openStore(opts.Dir); err != nil {
		return nil, fmt.Errorf("open local cloud: %w", err)
	}
	if c.st, err = c.store.load(); err != nil {
		_ = c.store.close()
		return nil, fmt.Errorf("open local cloud: %w", err)
	}
	if err := c.openSQS(); err != nil {
		_ = c.store.close()
		return nil, fmt.Errorf("open local cloud: sqs: %w", err)
	}
	if err := c.openEvents(); err != nil {
		_ = c.store.close()
		return nil, fmt.Errorf("open local cloud: events: %w", err)
	}
	for _, svc := range []*service{c.autoScalingService(), c.ec2Service(), c.sqsService(), c.eventsService(),
		c.iamService(), c.stsService()} {
		if err := c.services.register(svc); err != nil {
			_ = c.store.close()
			return nil, fmt.Errorf("open local cloud: %w", err)
		}
	}
	c.log.Info("local cloud opened", "dir", opts.Dir, "region", reg.Name,
		"groups", len(c.st.groups), "instances", len(c.st.instances))
	return c, nil
}

func (c *Cloud) setDefaults() {
	if c.runtime == nil {
		c.runtime = NopRuntime{}
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "localcloud")
	if c.interval <= 0 {
		c.interval = DefaultReconcileInterval
	}
	if c.retention <= 0 {
		c.retention = DefaultTerminatedRetention
	}
	if c.credsTTL <= 0 {
		c.credsTTL = DefaultRoleCredentialsTTL
	}
}

// Region returns the simulated region's name.
func (c *Cloud) Region() string { return c.region.Name }

// SetFaults replaces the simulated faults (say, to turn throttling on in the
// middle of a test). Scheduled boots and notices keep their times.
func (c *Cloud) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = f
	return nil
}

func (c *Cloud) currentFaults() Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// Start boots again the instances that survived a restart (under the same
// ids), finishes interrupted terminations, and runs the reconcile loop
// until ctx ends or Close is called. It returns at once.
func (c *Cloud) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return fmt.Errorf("start local cloud: %w", errClosed)
	case c.started:
		return errors.New("start local cloud: already started")
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.resumeLocked()
	c.goLocked(c.loop)
	return nil
}

// Close stops the reconcile loop, cancels boots in progress, stops the
// runtime of every instance that is not terminated (they boot again on the
// next Start with the same state) and closes the store. It is idempotent.
func (c *Cloud) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.cancel != nil {
		c.cancel()
	}
	for id, t := range c.timers {
		t.Stop()
		delete(c.timers, id)
	}
	var running []string
	for id, inst := range c.st.instances {
		if inst.State != stateTerminated {
			running = append(running, id)
		}
	}
	c.mu.Unlock()
	c.closeSQS()
	c.wg.Wait()
	for _, id := range running {
		c.runtime.Stop(id)
	}
	if err := c.store.close(); err != nil {
		return fmt.Errorf("close local cloud: %w", err)
	}
	c.log.Info("local cloud closed")
	return nil
}

// goLocked runs f in a goroutine that Close waits for. c.mu must be held.
func (c *Cloud) goLocked(f func()) {
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// goLater runs f in a tracked goroutine after d on the injected clock,
// replacing any timer of the same instance. c.mu must be held.
func (c *Cloud) goLater(instanceID string, d time.Duration, f func()) {
	if old, ok := c.timers[instanceID]; ok {
		old.Stop()
		delete(c.timers, instanceID)
	}
	if d <= 0 {
		c.goLocked(f)
		return
	}
	// The fake clock runs callbacks while holding its own lock: hand off to
	// a goroutine before taking c.mu.
	c.timers[instanceID] = c.clock.AfterFunc(d, func() {
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			delete(c.timers, instanceID)
			c.goLocked(f)
		}()
	})
}

// commit writes the changes to the store, then to memory, and publishes
// the instance events they cause. c.mu must be held.
func (c *Cloud) commit(ch *changes) error {
	if c.closed {
		return errClosed
	}
	if err := c.store.apply(ch); err != nil {
		return err
	}
	events := c.instanceEvents(ch, c.clock.Now())
	c.st.apply(ch)
	for _, ev := range events {
		c.publish(ev)
	}
	return nil
}

// trigger asks the reconcile loop for a pass soon.
func (c *Cloud) trigger() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}
