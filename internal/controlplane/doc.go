// Package controlplane starts and supervises a local Kubernetes control
// plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler at
// the versions pinned in hack/controlplane, with a PKI generated in Go.
//
// A cluster lives in one directory:
//
//	<dir>/
//	  lock              held (flock) while a process runs the cluster
//	  ports.json        ports chosen on first start, reused on restart
//	  pki/              CAs, serving and client certificates (keys 0600)
//	  etcd/             etcd data
//	  admin.kubeconfig  system:masters client; also controller-manager.kubeconfig
//	                    and scheduler.kubeconfig with least privilege
//	  scheduler.yaml    kube-scheduler's config (its client's QPS and burst)
//	  logs/<component>.log
//
// Start is idempotent over that directory: a restart reuses the PKI, the
// etcd data and the ports, so kubeconfigs written for nodes stay valid.
//
// kube-controller-manager signs certificates with the cluster CA, but
// nothing in the cluster approves node CSRs: its csrapproving controller
// (which approves kubelet client CSRs of any requestor RBAC lets create
// certificatesigningrequests/nodeclient or /selfnodeclient, the admin
// included) is turned off, and no nodeclient or selfnodeclient binding
// exists. Approval is kelp's job. On a kubeadm cluster csrapproving runs;
// docs/security.md says how kelp lives beside it.
package controlplane
