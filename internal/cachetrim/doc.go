// Package cachetrim drops from the objects kelp's informers cache the
// fields no kelp controller reads, and makes the pods of one template
// share what they have in common, so the caches of a large cluster hold
// what the controllers use and not what the API server sends. [Transform]
// is the one transform of the controllers' shared informer factory
// (informers.WithTransform): the approver, the autoscaler loop, node
// lifecycle, terminationctl and competingapprovers read its objects.
//
// What goes, for every type: metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation. For Pods
// also what only the kubelet, admission and humans read: each container's
// command, args, environment, volume mounts, probes, lifecycle hooks,
// security context and pull policy, ephemeral containers, the volumes
// that are neither claims, ephemeral, hostPath nor emptyDir (service
// account tokens, configMaps, secrets...), the service account, scheduler
// name, DNS settings, security context and image pull secrets, and of the
// status everything but the phase, the PodScheduled condition, reason,
// message and nominated node. For Nodes the images they hold, their
// addresses, system info, volumes in use and attached, runtime handlers,
// features and config. What stays
// is everything a reader uses: the pod spec the simulator compiles
// (resources, ports, restart policies, affinity, tolerations, topology
// spread, claims, overhead, node selector, priority), the grace period,
// owner references, labels and the other annotations (safe-to-evict, PDB
// selectors); node labels, taints, capacity, allocatable, conditions and
// provider ID.
//
// Then a pod's pieces that replicas of one template have in common —
// labels, annotations, owner references, containers, volumes,
// tolerations, affinity, topology spread, node selector, the PodScheduled
// condition, namespace and node name — are replaced by one shared copy,
// found by the piece's exact content (its protobuf encoding). Cached
// objects are read-only, as for any informer; shared pieces make that
// rule matter more: a write to one pod's labels would change its
// replicas'. The tables holding the shared copies keep at most two
// generations of 4,096 values each, so templates gone from the cluster
// are let go.
//
// Objects written back to the API server are always read fresh from it
// (Get, then Update), never taken from a trimmed cache.
package cachetrim
