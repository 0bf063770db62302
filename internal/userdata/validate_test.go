package userdata

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		mutate  func(*Input)
		want    []string
	}{
		{"kubeadm valid", ProfileKubeadm, func(*Input) {}, nil},
		{"openshift valid", ProfileOpenShift311, func(*Input) {}, nil},
		{"local valid", ProfileLocal, func(*Input) {}, nil},
		{"no registry auth", ProfileKubeadm, func(in *Input) { in.RegistryAuth = nil }, nil},
		{"kubelet labels allowed", ProfileKubeadm, func(in *Input) {
			in.Labels = map[string]string{
				"kubernetes.io/hostname": "h", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
				"beta.kubernetes.io/instance-type": "m5.large", "node.kubernetes.io/instance-type": "m5.large",
				"failure-domain.beta.kubernetes.io/region": "r", "failure-domain.beta.kubernetes.io/zone": "z",
				"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "z",
				"kubelet.kubernetes.io/x": "1", "node.kubernetes.io/x": "1", "sub.node.kubernetes.io/x": "1",
				"kelp.dev/pool": "workers", "example.com/a": "b", "plain": "v",
			}
		}, nil},
		{"unknown profile", "kops", func(*Input) {}, []string{`profile: Unsupported value: "kops"`, "kubeadm"}},
		{"empty profile", "", func(*Input) {}, []string{"profile: Unsupported value"}},
		{"missing cluster name", ProfileLocal, func(in *Input) { in.ClusterName = "" }, []string{"clusterName: Required"}},
		{"bad pool", ProfileLocal, func(in *Input) { in.Pool = "Big_Pool" }, []string{`pool: Invalid value: "Big_Pool"`}},
		{"missing kubeconfig", ProfileKubeadm, func(in *Input) { in.BootstrapKubeconfig = nil }, []string{"bootstrapKubeconfig: Required"}},
		{"garbage kubeconfig", ProfileKubeadm, func(in *Input) { in.BootstrapKubeconfig = []byte("{") }, []string{"bootstrapKubeconfig: Invalid"}},
		{"kubeconfig without CA", ProfileKubeadm, func(in *Input) {
			in.BootstrapKubeconfig = []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://h\n" +
				"users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n")
		}, []string{"bootstrapKubeconfig.clusters[c].certificate-authority-data: Required"}},
		{"kubeconfig without context", ProfileLocal, func(in *Input) {
			in.BootstrapKubeconfig = []byte("apiVersion: v1\nkind: Config\n")
		}, []string{"bootstrapKubeconfig.current-context"}},
		{"registry auth not json", ProfileKubeadm, func(in *Input) { in.RegistryAuth = []byte("auths: {}") }, []string{"registryAuth: Invalid", "JSON"}},
		{"registry auth without auths", ProfileKubeadm, func(in *Input) { in.RegistryAuth = []byte(`{"credsStore":"x"}`) }, []string{"registryAuth.auths: Required"}},
		{"registry auths not object", ProfileKubeadm, func(in *Input) { in.RegistryAuth = []byte(`{"auths":[]}`) }, []string{"registryAuth.auths: Invalid"}},
		{"registry auth entry not object", ProfileKubeadm, func(in *Input) { in.RegistryAuth = []byte(`{"auths":{"r":"x"}}`) }, []string{"registryAuth.auths: Invalid"}},
		{"invalid label key", ProfileKubeadm, func(in *Input) { in.Labels = map[string]string{"a b": "c"} }, []string{"labels[a b]: Invalid value: \"a b\": key:"}},
		{"invalid label value", ProfileKubeadm, func(in *Input) { in.Labels = map[string]string{"a": "b c"} }, []string{"labels[a]: Invalid value: \"b c\""}},
		{"pool label mismatch", ProfileKubeadm, func(in *Input) { in.Labels = map[string]string{PoolLabel: "other"} }, []string{"labels[kelp.dev/pool]", `"workers"`}},
		{"bad taint effect", ProfileKubeadm, func(in *Input) {
			in.Taints = []corev1.Taint{{Key: "k", Effect: "NoScheduleNoAdmit"}}
		}, []string{"taints[0].effect: Unsupported value", "NoExecute"}},
		{"empty taint effect", ProfileLocal, func(in *Input) { in.Taints = []corev1.Taint{{Key: "k"}} }, []string{"taints[0].effect"}},
		{"bad taint key and value", ProfileLocal, func(in *Input) {
			in.Taints = []corev1.Taint{{Key: "", Value: "a b", Effect: corev1.TaintEffectNoSchedule}}
		}, []string{"taints[0].key", "taints[0].value"}},
		{"taint time", ProfileLocal, func(in *Input) {
			in.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{}}}
		}, []string{"taints[0].timeAdded"}},
		{"duplicate taint", ProfileLocal, func(in *Input) {
			in.Taints = []corev1.Taint{{Key: "k", Effect: "NoSchedule"}, {Key: "k", Value: "v", Effect: "NoSchedule"}}
		}, []string{"taints[1]: Duplicate"}},
		{"openshift without region", ProfileOpenShift311, func(in *Input) { in.Region = "" }, []string{"region: Required"}},
		{"openshift bad region", ProfileOpenShift311, func(in *Input) { in.Region = "us-east-1\n[Evil]" }, []string{"region: Invalid"}},
		{"openshift bad node config", ProfileOpenShift311, func(in *Input) { in.NodeConfigName = "Node Config" }, []string{"nodeConfigName: Invalid"}},
		{"openshift labels", ProfileOpenShift311, func(in *Input) {
			in.Labels = map[string]string{"a": "b"}
			in.Taints = []corev1.Taint{{Key: "k", Effect: "NoSchedule"}}
		}, []string{"labels: Forbidden", "taints: Forbidden", "nodeConfigName"}},
		{"every problem at once", "", func(in *Input) {
			in.Pool, in.ClusterName, in.BootstrapKubeconfig, in.RegistryAuth = "", "", nil, []byte("x")
		}, []string{"profile", "pool", "clusterName", "bootstrapKubeconfig", "registryAuth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testInput(t, tt.profile)
			if tt.profile == "" || tt.profile == "kops" {
				in = testInput(t, ProfileLocal)
				in.Profile = tt.profile
			}
			tt.mutate(&in)
			testenv.CheckError(t, in.Validate(), tt.want...)
			_, err := Render(in)
			testenv.CheckError(t, err, tt.want...)
		})
	}
}

func TestForbiddenLabels(t *testing.T) {
	forbidden := []string{
		"node-role.kubernetes.io/worker",
		"node-role.kubernetes.io/master",
		"kubernetes.io/role",
		"k8s.io/anything",
		"sub.k8s.io/anything",
		"example.kubernetes.io/x",
		"node-restriction.kubernetes.io/x",
		"a.node-restriction.kubernetes.io/x",
		"beta.kubernetes.io/fluentd-ds-ready",
		"kubernetes.io/instance-type-x",
	}
	for _, key := range forbidden {
		t.Run(key, func(t *testing.T) {
			if IsKubeletLabel(key) {
				t.Errorf("IsKubeletLabel(%q) = true", key)
			}
			in := testInput(t, ProfileKubeadm)
			in.Labels = map[string]string{key: "true"}
			err := in.Validate()
			testenv.ErrorContains(t, err, "labels["+key+"]: Forbidden", "NodeRestriction")
			if n := len(unwrapAll(err)); n != 1 {
				t.Errorf("got %d errors, want 1: %v", n, err)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestValidateJoinsEveryError(t *testing.T) {
	in := Input{Profile: ProfileKubeadm, Labels: map[string]string{"k8s.io/a": "1", "kubernetes.io/b": "2"}}
	errs := unwrapAll(in.Validate())
	if len(errs) != 5 { // clusterName, pool, bootstrapKubeconfig, two labels
		t.Errorf("got %d errors, want 5: %v", len(errs), errors.Join(errs...))
	}
}
