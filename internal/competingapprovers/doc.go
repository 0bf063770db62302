// Package competingapprovers finds the other approvers that would approve
// kelp's node CSRs before kelp decides them: kube-controller-manager's
// csrapproving controller approves a kubelet client CSR as soon as its
// requestor may create certificatesigningrequests/nodeclient (a bootstrap
// token) or /selfnodeclient (a node renewing its own certificate).
//
// The core is pure: [Probes] lists the SubjectAccessReviews to ask (the
// same question csrapproving asks, for a kelp bootstrap token of each pool
// and for a node), and [Evaluate] turns the API server's answers and the
// cluster's ClusterRoleBindings into a [Report] whose [Finding]s name the
// bindings to remove. [Checker] asks the API server; [Monitor] runs the
// check at start (where, in auto approve mode, a token that csrapproving
// would approve stops kelp unless overridden) and periodically, and says
// what it found in the log, an Event on the status ConfigMap
// kube-system/kelp-status, that ConfigMap's key "competingApprovers" and
// the gauge kelp_competing_approvers.
//
// A SubjectAccessReview only says what RBAC (and any other authorizer)
// allows, not whether csrapproving runs: on a control plane started with
// --controllers=...,-csrapproving nothing approves, and the finding is a
// false alarm the operator overrides (--allow-competing-approvers).
package competingapprovers
