// Package bootstrap owns what a new node needs to join a cluster: bootstrap
// token Secrets bound to one pool, the RBAC binding that lets bootstrap
// tokens request node client certificates, and the bootstrap kubeconfig
// handed to an instance through its user-data.
//
// A kelp token authenticates as system:bootstrap:<id> with the groups
// system:bootstrappers, [GroupPrefix] and [PoolGroup](pool). Only
// [GroupPrefix] is bound to system:node-bootstrapper (see [JoinRBAC]); the
// pool group lets the CSR approver learn which pool a request comes from
// ([PoolFromGroups]). A token of an identity join (internal/join) carries
// [InstanceGroup](instance-id) instead of a pool group: it names the one
// instance it was issued to ([InstanceFromGroups]). Nothing here approves
// certificates automatically.
//
// Builders ([NewTokenSecret], [TokenFromSecret], [JoinRBAC],
// [BootstrapKubeconfig]) are pure; the functions taking a
// kubernetes.Interface ([CreateToken], [ListTokens], [DeleteToken],
// [EnsureJoinRBAC]) are the only ones doing IO.
package bootstrap
