package controller

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// cycleSource is what health reads of the autoscaler (*loop.Autoscaler).
type cycleSource interface {
	LastCycles() (ran, succeeded time.Time)
}

// csrQueue is what health reads of the CSR approver (*approver.Controller).
type csrQueue interface {
	OldestQueued() time.Time
}

// replicaState is what the probes read of this replica: whether it leads
// and since when, the leader's health sources and the caches it waits
// for. runControllers fills it in as it builds the controllers.
type replicaState struct {
	clock  clock.PassiveClock
	bounds HealthOptions
	// autoscaling is true when an autoscaler is configured: until it is
	// built, it counts as having finished no cycle.
	autoscaling bool
	leader      prometheus.Gauge

	mu         sync.Mutex
	leading    bool
	since      time.Time
	autoscaler cycleSource
	approver   csrQueue
	synced     map[string]func() bool
}

func newReplicaState(o Options, clk clock.PassiveClock, reg prometheus.Registerer) *replicaState {
	leader := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kelp_leader",
		Help: "1 while this replica runs the controllers (holds the kube-system/kelp-controller Lease, or runs without leader election), else 0.",
	})
	reg.MustRegister(leader)
	return &replicaState{clock: clk, bounds: o.Health, autoscaling: o.Autoscaler != nil, leader: leader, synced: map[string]func() bool{}}
}

// startedLeading marks the replica as the one running the controllers.
func (r *replicaState) startedLeading() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leading, r.since = true, r.clock.Now()
	r.leader.Set(1)
}

// stoppedLeading marks the controllers stopped.
func (r *replicaState) stoppedLeading() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leading = false
	r.leader.Set(0)
}

func (r *replicaState) setAutoscaler(s cycleSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.autoscaler = s
}

func (r *replicaState) setApprover(q csrQueue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.approver = q
}

// addSynced adds a cache /readyz waits for, by name.
func (r *replicaState) addSynced(name string, synced func() bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.synced[name] = synced
}

// health decides /healthz now (DecideHealth).
func (r *replicaState) health() (h Health, leading bool) {
	r.mu.Lock()
	f := HealthFacts{Now: r.clock.Now(), Leading: r.leading, Since: r.since, Bounds: r.bounds}
	autoscaler, approver := r.autoscaler, r.approver
	r.mu.Unlock()
	if r.autoscaling {
		f.Autoscaler = &CycleTimes{}
		if autoscaler != nil {
			f.Autoscaler.Ran, f.Autoscaler.Succeeded = autoscaler.LastCycles()
		}
	}
	if approver != nil {
		f.OldestQueuedCSR = approver.OldestQueued()
	}
	return DecideHealth(f), f.Leading
}

// unsynced returns, sorted, the names of the caches not yet synced.
func (r *replicaState) unsynced() (names []string, leading bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, synced := range r.synced {
		if !synced() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, r.leading
}

// isLeading reports whether the replica runs the controllers.
func (r *replicaState) isLeading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}
