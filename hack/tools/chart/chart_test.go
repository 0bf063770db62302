package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../../.."

// TestKeptRendersUpToDate: deploy/controller.yaml and the tests' render are
// the chart as it is.
func TestKeptRendersUpToDate(t *testing.T) {
	for _, r := range Renders {
		got, err := RenderFile(root, r)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := os.ReadFile(filepath.Join(root, r.Out))
		if err != nil {
			t.Fatal(err)
		}
		if string(kept) != string(got) {
			t.Errorf("%s is not the chart rendered with %s: run `make chart`", r.Out, r.Values)
		}
	}
}

func TestLint(t *testing.T) {
	for _, r := range Renders {
		if out, err := Helm("lint", "--strict", filepath.Join(root, ChartDir), "--kube-version", KubeVersion, "-f", filepath.Join(root, r.Values)); err != nil {
			t.Errorf("lint with %s: %v\n%s", r.Values, err, out)
		}
	}
}

// TestValues: values that render, and values refused with the reason.
func TestValues(t *testing.T) {
	required := []string{"--set", "clusterName=prod,region=eu-west-1"}
	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of the render
		wantErr string
	}{
		{name: "defaults", args: required, want: []string{
			"- --cluster-name=prod", "- --region=eu-west-1", "- --leader-elect=true", "- --probe-addr=:8080",
			"image: ghcr.io/kelp-dev/kelp:v0.1.0", "kind: PodDisruptionBudget", "node-role.kubernetes.io/control-plane",
			"path: /healthz", "path: /readyz", "runAsUser: 65532",
		}},
		{name: "no cluster name", args: []string{"--set", "region=eu-west-1"}, wantErr: "clusterName is required"},
		{name: "no region", args: []string{"--set", "clusterName=prod"}, wantErr: "region is required"},
		{name: "two replicas without election", args: append(required, "--set", "leaderElection=false"), wantErr: "replicas > 1 needs leaderElection: true"},
		{name: "one replica without election", args: append(required, "--set", "leaderElection=false,replicas=1"), want: []string{"- --leader-elect=false", "replicas: 1"}},
		{name: "first-class flag in extraArgs", args: append(required, "--set", "controller.extraArgs.approve=off"), wantErr: "controller.extraArgs.approve: --approve has a value of its own"},
		{name: "dashes in extraArgs", args: append(required, "--set-json", `controller.extraArgs={"--dry-run":true}`), wantErr: "without dashes"},
		{name: "null in extraArgs", args: append(required, "--set-json", `controller.extraArgs={"dry-run":null}`), wantErr: "no value"},
		{name: "list repeats the flag", args: append(required, "--set-json", `controller.extraArgs={"expander":["priority","random"]}`),
			want: []string{"- --expander=priority\n", "- --expander=random\n"}},
		{name: "digest pins the image", args: append(required, "--set", "image.repository=r.example/kelp,image.digest=sha256:abc"),
			want: []string{"image: r.example/kelp@sha256:abc"}},
		{name: "irsa and host network", args: append(required, "--set", "hostNetwork=true",
			"--set-string", `serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::1:role/kelp`),
			want: []string{"hostNetwork: true", "dnsPolicy: ClusterFirstWithHostNet", "eks.amazonaws.com/role-arn: arn:aws:iam::1:role/kelp"}},
		{name: "join endpoint on a NodePort", args: append(required, "--set", "join.enabled=true,join.stsEndpoint=https://sts.eu-west-1.amazonaws.com,join.roles={kelp-node},join.certHosts={10.0.1.10}"),
			want: []string{"- --join-addr=:8443\n", "- --join-sts-endpoint=https://sts.eu-west-1.amazonaws.com\n", "- --join-roles=kelp-node\n",
				"- --join-cert-hosts=10.0.1.10\n", "name: join\n              containerPort: 8443", "name: kelp-controller-join", "type: NodePort", "nodePort: 30443", "targetPort: join"}},
		{name: "join endpoint on the host network", args: append(required, "--set", "hostNetwork=true,join.enabled=true,join.port=9443,join.stsEndpoint=https://sts.eu-west-1.amazonaws.com,join.roles={kelp-node},join.service.enabled=false"),
			want: []string{"hostNetwork: true", "- --join-addr=:9443\n", "containerPort: 9443"}},
		{name: "join endpoint with a TLS secret", args: append(required, "--set", "join.enabled=true,join.stsEndpoint=https://sts.eu-west-1.amazonaws.com,join.roles={kelp-node},join.tlsSecret=kelp-join-tls,join.service.type=ClusterIP"),
			want: []string{"- --join-cert-file=/etc/kelp/join-tls/tls.crt\n", "- --join-key-file=/etc/kelp/join-tls/tls.key\n", "secretName: kelp-join-tls", "mountPath: /etc/kelp/join-tls", "type: ClusterIP"}},
		{name: "join off by default", args: required, want: []string{"- --approve=auto"}},
		{name: "join without an STS endpoint", args: append(required, "--set", "join.enabled=true,join.roles={kelp-node}"), wantErr: "join.stsEndpoint is required"},
		{name: "join without roles", args: append(required, "--set", "join.enabled=true,join.stsEndpoint=https://sts.eu-west-1.amazonaws.com"), wantErr: "join.roles is required"},
		{name: "join service of an unknown type", args: append(required, "--set", "join.enabled=true,join.stsEndpoint=https://s,join.roles={r},join.service.type=ExternalName"), wantErr: `join.service.type "ExternalName"`},
		{name: "join flag in extraArgs", args: append(required, "--set", "controller.extraArgs.join-addr=:1"), wantErr: "controller.extraArgs.join-addr: --join-addr has a value of its own"},
		{name: "service monitor", args: append(required, "--set", "metrics.serviceMonitor.enabled=true"),
			want: []string{"kind: ServiceMonitor", "kind: Service\n", "port: metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Template(filepath.Join(root, ChartDir), tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("render lacks %q:\n%s", w, out)
				}
			}
			if tt.name == "join off by default" && (strings.Contains(string(out), "--join-addr") || strings.Contains(string(out), "name: join")) {
				t.Errorf("join.enabled false renders the join endpoint:\n%s", out)
			}
		})
	}
}
