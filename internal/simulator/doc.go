// Package simulator owns kelp's model of the kube-scheduler's filtering: a
// forkable cluster [Snapshot] of nodes (real or built from a pool's
// template) and the pods placed on them, the predicates that decide whether
// a pod fits a node with the scheduler's meaning, equivalence classes of
// pods, and the DaemonSet overhead of a new node.
//
// The package is pure: no API calls, no clock, no logging, no goroutines.
// Inputs are plain values that the caller resolved beforehand (for example
// the zones of a pod's bound PersistentVolumes go into
// [PodInfo.RequiredZones]); outputs are values with typed [Reason]s.
//
// # Caller's loop
//
// A planner (the autoscaler) drives it like this:
//
//  1. Build a Snapshot from the informer caches: [Snapshot.AddNode] for each
//     Node, [Snapshot.AddPod] for each pod bound to a node, and
//     [Snapshot.SetNamespaceLabels] for namespaces whose labels are used by
//     namespaceSelectors. Nodes and pods are never mutated by the package;
//     pass deep copies if the caller might change them.
//  2. Group pending pods with [EquivalenceKey] and compile one representative
//     per class with [NewPod]; a class whose [Pod.Unsupported] reason is set
//     is reported to the user, never packed.
//  3. For each class, ask [FitNodes] (O(nodes)) which nodes fit and why the
//     others do not, or use a [Placer] to place many replicas of the class
//     first-fit, incrementally.
//  4. To try an option (a new node of a pool, a different placement),
//     [Snapshot.Fork] first, add [Snapshot.AddTemplateNode] nodes whose
//     allocatable is reduced by [DaemonSetOverhead], place, and keep or drop
//     the fork. Forks share unchanged nodes (copy-on-write), so a fork costs
//     O(nodes) pointer copies. To try many options in turn, take a
//     [Snapshot.Mark] (and a [Placer.Mark] of each Placer in use) instead,
//     try the option in place, and [Snapshot.Rollback] (and
//     [Placer.Rollback]): an option then costs what it adds. Nodes made
//     from one template share their static verdicts (taints, node
//     affinity), however many forks or options add them.
//  5. Turn the result into a plan; render events and status from the
//     plan's reasons, never by re-running the predicates.
//
// A [Packer] answers step 4 for many replicas at once: it computes where
// equivalence classes would land on the snapshot plus new nodes of one
// template without forking or placing, arithmetically per class for
// identical pods on identical nodes, and the caller replays only the
// outcome it chooses.
//
// A Snapshot and its forks are not safe for concurrent mutation; distinct
// forks may be read and mutated from distinct goroutines.
//
// # What is modelled
//
// The Filter plugins NodeUnschedulable, NodeName, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit, VolumeZone (from resolved
// zones), NodeVolumeLimits for CSI drivers (limits in node allocatable,
// volumes resolved by the caller; see [VolumeLimitPrefix]),
// PodTopologySpread (DoNotSchedule constraints; ScheduleAnyway is a
// score and ignored) and InterPodAffinity (required terms, hostname and
// zone topologies, including existing pods' anti-affinity). Pod requests,
// taint tolerations and required node affinity are k8s.io/component-helpers'
// (resource.PodRequests, FindMatchingUntoleratedTaint, RequiredNodeAffinity),
// the code the scheduler runs, compiled once per pod spec. Pods with
// dynamic resource claims, unresolved volumes, or affinity/spread over other
// topology keys are unsupported (see [Pod.Unsupported]).
package simulator
