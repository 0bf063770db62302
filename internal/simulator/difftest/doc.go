// Package difftest owns the differential test of the simulator's filtering
// ([simulator.FitNodes]) against the real kube-scheduler of the test control
// plane. It holds no production code: everything is in its _test.go files.
//
// # What a scenario is
//
// A scenario is 2–5 Node objects (labels, zone, taints, cordon,
// allocatable), 0–4 pods bound to them directly with spec.nodeName (some of
// them terminating), and one probe pod (requests, init and sidecar
// containers, nodeSelector, required node affinity, tolerations, host
// ports, required pod affinity and anti-affinity, DoNotSchedule topology
// spread). Half the scenarios stress the static filters and resources, half
// pod affinity and spread on roomy untainted nodes. Scenarios come from a
// seeded math/rand/v2 generator (scenario i of seed s from PCG(s, i)); the
// seed is logged, and KELP_DIFFTEST_SEED and KELP_DIFFTEST_SCENARIOS
// (default 100) pin the seed and the count. A mismatch prints the whole
// scenario as YAML.
//
// TestKnownCases runs hand-written scenarios whose verdicts were worked out
// by hand, checking the scheduler's answers (and so the pinning below) as
// well as the simulator's.
//
// # How the real scheduler is asked "which nodes does the pod fit"
//
// Each node of a scenario gets its own extended resource,
// difftest.kelp.dev/pin-<node>: 1, in its allocatable. For every node the
// harness creates a copy of the probe that additionally requests (and
// limits) that node's pin resource, waits until the scheduler binds it or
// reports PodScheduled=False/Unschedulable, and deletes it (grace period 0)
// before the next copy. Every other node fails NodeResourcesFit for the
// copy, so the copy is schedulable exactly when the probe fits that node.
//
// Pinning through a resource, rather than through node affinity
// (matchFields metadata.name) or a nodeSelector, changes no other filter:
// PodTopologySpread with nodeAffinityPolicy Honor counts only the nodes
// matching the pod's node affinity, so affinity pinning would shrink the
// spread domains to the pinned node; taint pinning would change domains
// under nodeTaintsPolicy Honor. A resource request only adds one more
// resource to NodeResourcesFit; the pod-count check and every other
// resource are compared exactly as for the probe.
//
// The simulator is given what the scheduler sees: the Node objects read
// back from the API server, the bound pods as stored, and the probe as
// returned by a dry-run create (so admission defaults such as
// DefaultTolerationSeconds are included); the pin request is left out.
//
// # Isolation and the control plane's own behaviour
//
// Scenarios run a few at a time. Each has its own namespace (pod affinity,
// anti-affinity and spread only count pods of the probe's namespace) and
// its own nodes carrying difftest.kelp.dev/scenario=<id>, which every probe
// selects through spec.nodeSelector; with nodeAffinityPolicy Honor, other
// scenarios' nodes are then neither candidates nor spread domains. The
// generator therefore never emits nodeAffinityPolicy Ignore, which would
// count every node of the cluster as a domain.
//
// No kubelet runs, so the node lifecycle controller taints nodes
// node.kubernetes.io/not-ready and, after the grace period,
// node.kubernetes.io/unreachable. Probes tolerate both keys (and the
// simulator sees those tolerations), so these taints change no verdict
// whenever they appear; bound pods tolerate everything, so taint eviction
// never removes them. Cordoned nodes are created with the
// node.kubernetes.io/unschedulable taint the controller would add, so
// nodeTaintsPolicy Honor sees the same taints throughout. Pods have
// priority 0, so preemption never evicts anything.
//
// The scheduler's cache follows the API server through informers, and a
// pod's deletion may reach the cache after the next copy is queued. A
// verdict that disagrees with the simulator is therefore probed a second
// time before it counts as a mismatch.
package difftest
