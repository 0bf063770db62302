// Package cachetrim drops from the objects kelp's informers cache the
// fields no kelp controller reads, so the caches of a large cluster hold
// what the controllers use and not what the API server sends. [Transform]
// is the one transform of the controllers' shared informer factory
// (informers.WithTransform): the approver, the autoscaler loop, node
// lifecycle, terminationctl and competingapprovers read its objects.
//
// What goes, for every type: metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation. For Pods
// also what only the kubelet and humans read: each container's command,
// args, environment, volume mounts, probes and lifecycle hooks, ephemeral
// containers, and the status' container statuses and IPs. For Nodes the
// images they hold. What stays is everything a reader uses: the whole pod
// spec the simulator compiles (resources, ports, restart policies,
// affinity, tolerations, topology spread, volumes, overhead, node
// selector, priority), owner references, labels and the other annotations
// (safe-to-evict, PDB selectors), phase and conditions; node labels,
// taints, capacity, allocatable, conditions and provider ID.
//
// Objects written back to the API server are always read fresh from it
// (Get, then Update), never taken from a trimmed cache.
package cachetrim
