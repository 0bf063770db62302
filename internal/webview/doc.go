// Package webview serves kelp's live web view: a read-only page, with its
// assets embedded, that shows the [clusterview.View] of the cluster and
// updates it by server-sent events, with plots of the last hour drawn
// from samples it keeps in memory. Every controller replica serves it from
// its own watches ([Watch]); the leader's decisions reach standbys through
// what the leader publishes (the status ConfigMap and Events).
//
// On a loopback address it needs no credentials. Bound elsewhere, every
// request for cluster data (/api/...) must carry a Kubernetes bearer token
// that TokenReview authenticates and SubjectAccessReview allows to "get"
// the non-resource URL /kelp/view ([ViewPath]); the page and its scripts,
// which hold no cluster data, are served to anyone. [Snapshot] lists the
// same facts once, for `kelp status`.
package webview
