// Package controller is kelp's composition root: it wires the controllers
// of one process — the CSR approver (internal/approver), node lifecycle
// (internal/nodelifecycle), the drain of instances held on kelp's
// termination hook (internal/terminationctl), the autoscaler
// (internal/autoscaler/loop), bootstrap-token rotation and the checks for
// competing approvers
// (internal/competingapprovers), which can refuse to start — to one
// informer factory, one event recorder and the cloud provider, and runs
// them behind leader election, with Prometheus metrics and health
// endpoints. It decides nothing itself: each controller gathers its facts,
// decides with its own pure core and acts.
package controller
