// Package controller runs kelp's controllers in one process — the CSR
// approver, node lifecycle and (later) the autoscaler — behind leader
// election, with Prometheus metrics and health endpoints. It gathers the
// clients and the cloud provider; each controller decides with its own
// pure core and acts.
package controller
