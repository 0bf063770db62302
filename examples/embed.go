// Package examples holds the cluster configs and workloads the README and
// tests use; the default pools of `kelp up` are embedded from here.
package examples

import _ "embed"

// ClusterYAML is examples/cluster.yaml: the pools `kelp up` creates when
// no --pools file is given.
//
//go:embed cluster.yaml
var ClusterYAML []byte

// ScaleYAML is examples/scale.yaml: the pools of the scale benchmark
// (test/e2e, `make bench-scale`).
//
//go:embed scale.yaml
var ScaleYAML []byte
