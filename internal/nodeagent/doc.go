// Package nodeagent is kelp's simulated kubelet: one [Agent] joins a real
// Kubernetes cluster the way a kubelet does, speaking the real node
// protocol, and then runs the pods bound to it without running anything.
//
// An agent reads a directory standing in for an instance's filesystem
// (Config.Root), laid out by cloud-init from the pool's user-data:
//
//	<root>/etc/kelp/bootstrap-kubeconfig      bootstrap token kubeconfig
//	<root>/etc/kelp/join.yaml                 or, in identity mode, where
//	                                          kelp's join endpoint is
//	<root>/etc/kelp/node.yaml                 pool, labels, taints
//	<root>/run/kelp/instance-identity.json    stand-in for EC2 metadata
//
// and writes its own credentials under <root>/var/lib/kelp:
//
//	pki/kelp-client-current.pem   client certificate and key (0600)
//	pki/kelp-server-current.pem   serving certificate and key (0600)
//	kubeconfig                    the node identity's kubeconfig
//
// Run does, in order, what a kubelet does:
//
//  0. Identity join: with a join config and no bootstrap kubeconfig yet,
//     it first runs Config.Join (what `kelp join` does before the kubelet
//     starts): the instance proves who it is with its role's credentials,
//     read from the metadata service from the instance's own address, and
//     kelp answers with a bootstrap token bound to this instance, written
//     as the bootstrap kubeconfig.
//  1. TLS bootstrap: unless a valid client certificate is already on disk,
//     it creates a CSR for system:node:<private-dns-name> (signer
//     kubernetes.io/kube-apiserver-client-kubelet) with the bootstrap
//     token and waits until someone else approves it and the
//     kube-controller-manager signs it. Nothing here approves anything.
//     From then on it acts only as the node, so the Node authorizer and
//     the NodeRestriction admission plugin apply.
//  2. It registers its Node (labels, taints, provider ID, capacity and
//     allocatable from the instance type in package catalog).
//  3. It renews its Lease in kube-node-lease and posts node status
//     (Ready) periodically.
//  4. It requests a serving certificate (signer kubernetes.io/kubelet-serving)
//     in the background and, once issued, serves HTTPS /healthz on the
//     instance's private IP, port 10250.
//  5. It watches the pods bound to it (one watch, field selector
//     spec.nodeName) and reports them Running and Ready with a pod IP from
//     a per-node /24; deleted pods are removed after their grace period.
//  6. It rotates both certificates at 70–90% of their lifetime, requesting
//     the new client certificate with its own node identity.
//
// Cancelling Run's context stops the agent without cleanup: the Node and
// its Lease stay, so the node goes NotReady as a real one would.
//
// Agents share nothing: no package-level state, one HTTP transport and
// one pod watch each, so a process can run hundreds of them. Time (leases,
// heartbeats, grace periods, retries, rotation deadlines) comes from the
// injected clock.
package nodeagent
