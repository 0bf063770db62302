// Package userdata builds the #cloud-config documents kelp puts in a pool's
// launch template: from an [Input] (pool, bootstrap kubeconfig, registry
// credentials, node labels and taints) and a [Profile] (kubeadm,
// openshift-3.11 or local) it renders the files and commands that make a
// fresh instance join the cluster. Two joins: a bootstrap kubeconfig
// (token mode), or an [IdentityJoin] (identity mode: no secret at all,
// only kelp's join endpoint, the API server and their CAs; the instance
// proves who it is with its instance role and gets a token bound to it;
// kubeadm and local, not openshift-3.11).
//
// Documents are Go values ([CloudConfig]) marshalled to YAML with sorted
// keys, so the output is deterministic. [Render] fits the result into EC2's
// 16 KiB user-data limit, gzip-compressing it when needed; [Decode] reverses
// that, and is what the local cloud uses to boot an instance.
package userdata
