package userdata

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Files written by the local profile, read by `kelp node --root <dir>` at
// <dir> joined with these paths.
const (
	LocalBootstrapKubeconfigPath = "/etc/kelp/bootstrap-kubeconfig"
	LocalNodeConfigPath          = "/etc/kelp/node.yaml"
	LocalRegistryAuthPath        = "/etc/kelp/registry-auth.json"
)

// NodeConfig's apiVersion and kind.
const (
	NodeConfigAPIVersion = "kelp.dev/v1alpha1"
	NodeConfigKind       = "NodeConfig"
)

// NodeConfig is what the local node agent needs besides its kubeconfig.
type NodeConfig struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	ClusterName string `json:"clusterName"`
	Pool        string `json:"pool"`
	// Labels are the node's labels, PoolLabel included.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are registered with the node.
	Taints []corev1.Taint `json:"taints,omitempty"`
}

// Validate returns every problem with c, each naming its field, or nil.
func (c NodeConfig) Validate() error {
	var errs field.ErrorList
	if c.APIVersion != NodeConfigAPIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), c.APIVersion, []string{NodeConfigAPIVersion}))
	}
	if c.Kind != NodeConfigKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), c.Kind, []string{NodeConfigKind}))
	}
	errs = append(errs, validateName(field.NewPath("clusterName"), c.ClusterName, validation.IsDNS1123Subdomain)...)
	errs = append(errs, validateName(field.NewPath("pool"), c.Pool, validation.IsDNS1123Label)...)
	errs = append(errs, validateNodeLabels(field.NewPath("labels"), c.Labels, c.Pool)...)
	errs = append(errs, validateTaints(field.NewPath("taints"), c.Taints)...)
	return joinFieldErrors(errs)
}

// ParseNodeConfig parses and validates a NodeConfig; unknown fields are an
// error.
func ParseNodeConfig(data []byte) (NodeConfig, error) {
	var c NodeConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return NodeConfig{}, fmt.Errorf("parse node config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return NodeConfig{}, fmt.Errorf("invalid node config: %w", err)
	}
	return c, nil
}

// buildLocal lays out a local node: bootstrap kubeconfig (token mode) or
// JoinConfig (identity mode), NodeConfig, optional registry credentials
// (token mode); then runs the simulated kubelet, which in identity mode
// joins first.
func buildLocal(in Input) (CloudConfig, error) {
	nc := NodeConfig{
		APIVersion:  NodeConfigAPIVersion,
		Kind:        NodeConfigKind,
		ClusterName: in.ClusterName,
		Pool:        in.Pool,
		Labels:      nodeLabels(in),
		Taints:      in.Taints,
	}
	if err := nc.Validate(); err != nil {
		return CloudConfig{}, fmt.Errorf("node config: %w", err)
	}
	ncYAML, err := yaml.Marshal(nc)
	if err != nil {
		return CloudConfig{}, fmt.Errorf("marshal node config: %w", err)
	}
	var files []File
	if in.Identity != nil {
		jc, err := yaml.Marshal(JoinConfig{APIVersion: NodeConfigAPIVersion, Kind: JoinConfigKind, IdentityJoin: *in.Identity})
		if err != nil {
			return CloudConfig{}, fmt.Errorf("marshal join config: %w", err)
		}
		files = append(files, newFile(LocalJoinConfigPath, jc, PermPublic))
	} else {
		files = append(files, newFile(LocalBootstrapKubeconfigPath, in.BootstrapKubeconfig, PermSecret))
	}
	files = append(files, newFile(LocalNodeConfigPath, ncYAML, PermPublic))
	if len(in.RegistryAuth) > 0 {
		files = append(files, newFile(LocalRegistryAuthPath, in.RegistryAuth, PermSecret))
	}
	return CloudConfig{
		WriteFiles: files,
		RunCmd:     []Command{Argv("kelp", "node", "--root", "/")},
	}, nil
}
