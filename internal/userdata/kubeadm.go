package userdata

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// Files written by the kubeadm profile. The kubelet's kubeadm systemd
// drop-in passes --bootstrap-kubeconfig, --config and $KUBELET_EXTRA_ARGS.
const (
	KubeadmBootstrapKubeconfigPath = "/etc/kubernetes/bootstrap-kubelet.conf"
	KubeadmCAPath                  = "/etc/kubernetes/pki/ca.crt"
	KubeadmKubeletConfigPath       = "/var/lib/kubelet/config.yaml"
	KubeadmKubeletEnvPath          = "/etc/sysconfig/kubelet"
	KubeadmRegistryAuthPath        = "/var/lib/kubelet/config.json"
	// KubeadmJoinCAPath is the join endpoint's CA bundle (identity mode).
	KubeadmJoinCAPath = "/etc/kelp/join-ca.crt"
)

// kubeletConfiguration is the part of kubelet.config.k8s.io/v1beta1
// KubeletConfiguration kelp sets; the kubelet defaults the rest.
type kubeletConfiguration struct {
	APIVersion         string                `json:"apiVersion"`
	Kind               string                `json:"kind"`
	Authentication     kubeletAuthentication `json:"authentication"`
	Authorization      kubeletAuthorization  `json:"authorization"`
	RotateCertificates bool                  `json:"rotateCertificates"`
	ServerTLSBootstrap bool                  `json:"serverTLSBootstrap"`
	RegisterWithTaints []corev1.Taint        `json:"registerWithTaints,omitempty"`
}

type kubeletAuthentication struct {
	Anonymous struct {
		Enabled bool `json:"enabled"`
	} `json:"anonymous"`
	Webhook struct {
		Enabled bool `json:"enabled"`
	} `json:"webhook"`
	X509 struct {
		ClientCAFile string `json:"clientCAFile"`
	} `json:"x509"`
}

type kubeletAuthorization struct {
	Mode string `json:"mode"`
}

// buildKubeadm lays out a kubeadm-style node: bootstrap kubeconfig, cluster
// CA (to authenticate the API server's calls to the kubelet), kubelet config
// with certificate rotation and serving-certificate bootstrap, node labels
// as flags, optional registry credentials; then starts the kubelet. In
// identity mode there is no bootstrap kubeconfig: the join endpoint's CA is
// written instead and `kelp join` writes the kubeconfig before the kubelet
// starts.
func buildKubeadm(in Input) (CloudConfig, error) {
	if in.Identity != nil {
		return buildKubeadmIdentity(in)
	}
	ca, err := clusterCA(in.BootstrapKubeconfig)
	if err != nil {
		return CloudConfig{}, err
	}
	files, err := kubeadmNodeFiles(in, ca)
	if err != nil {
		return CloudConfig{}, err
	}
	files = append([]File{newFile(KubeadmBootstrapKubeconfigPath, in.BootstrapKubeconfig, PermSecret)}, files...)
	if len(in.RegistryAuth) > 0 {
		files = append(files, newFile(KubeadmRegistryAuthPath, in.RegistryAuth, PermSecret))
	}
	return CloudConfig{
		WriteFiles: files,
		RunCmd:     []Command{Argv("systemctl", "enable", "--now", "kubelet")},
	}, nil
}

// buildKubeadmIdentity is buildKubeadm's identity mode: the two CA files
// and the kubelet's, then `kelp join` (which writes the bootstrap
// kubeconfig) and the kubelet.
func buildKubeadmIdentity(in Input) (CloudConfig, error) {
	id := in.Identity
	files, err := kubeadmNodeFiles(in, id.ServerCA)
	if err != nil {
		return CloudConfig{}, err
	}
	files = append([]File{newFile(KubeadmJoinCAPath, id.EndpointCA, PermPublic)}, files...)
	join := []string{"kelp", "join", "--endpoint", id.Endpoint, "--endpoint-ca", KubeadmJoinCAPath,
		"--server", id.Server, "--server-ca", KubeadmCAPath, "--bootstrap-kubeconfig", KubeadmBootstrapKubeconfigPath}
	if id.STSEndpoint != "" {
		join = append(join, "--sts-endpoint", id.STSEndpoint)
	}
	if id.MetadataEndpoint != "" {
		join = append(join, "--imds-endpoint", id.MetadataEndpoint)
	}
	return CloudConfig{
		WriteFiles: files,
		RunCmd:     []Command{Argv(join...), Argv("systemctl", "enable", "--now", "kubelet")},
	}, nil
}

// kubeadmNodeFiles are the files of a kubeadm node in both modes: the
// cluster CA, the kubelet configuration and its environment (labels).
func kubeadmNodeFiles(in Input, ca []byte) ([]File, error) {
	kc := kubeletConfiguration{
		APIVersion:         "kubelet.config.k8s.io/v1beta1",
		Kind:               "KubeletConfiguration",
		Authorization:      kubeletAuthorization{Mode: "Webhook"},
		RotateCertificates: true,
		ServerTLSBootstrap: true,
		RegisterWithTaints: in.Taints,
	}
	kc.Authentication.Webhook.Enabled = true
	kc.Authentication.X509.ClientCAFile = KubeadmCAPath
	kcYAML, err := yaml.Marshal(kc)
	if err != nil {
		return nil, fmt.Errorf("marshal kubelet configuration: %w", err)
	}
	env := fmt.Sprintf("KUBELET_EXTRA_ARGS=--node-labels=%s\n", labelsFlag(nodeLabels(in)))
	return []File{
		newFile(KubeadmCAPath, ca, PermPublic),
		newFile(KubeadmKubeletConfigPath, kcYAML, PermPublic),
		newFile(KubeadmKubeletEnvPath, []byte(env), PermPublic),
	}, nil
}

// clusterCA returns the CA data of the kubeconfig's current cluster.
func clusterCA(kubeconfig []byte) ([]byte, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("bootstrapKubeconfig: %w", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("bootstrapKubeconfig: current-context %q: not found", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok || len(cluster.CertificateAuthorityData) == 0 {
		return nil, fmt.Errorf("bootstrapKubeconfig: cluster %q: no certificate-authority-data", ctx.Cluster)
	}
	return cluster.CertificateAuthorityData, nil
}
