package userdata

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/testenv"
)

type wantFile struct {
	perm     string
	contains []string // substrings of the decoded content; nil: compare to exact
	exact    []byte
}

func TestRenderContents(t *testing.T) {
	kubeconfig := readTestdata(t, "bootstrap-kubeconfig.yaml")
	auth := readTestdata(t, "registry-auth.json")
	tests := []struct {
		profile Profile
		files   map[string]wantFile
		runcmd  [][]string
	}{
		{ProfileKubeadm, map[string]wantFile{
			KubeadmBootstrapKubeconfigPath: {perm: "0600", exact: kubeconfig},
			KubeadmCAPath:                  {perm: "0644", contains: []string{"-----BEGIN CERTIFICATE-----"}},
			KubeadmKubeletConfigPath: {perm: "0644", contains: []string{"apiVersion: kubelet.config.k8s.io/v1beta1",
				"kind: KubeletConfiguration", "rotateCertificates: true", "serverTLSBootstrap: true",
				"registerWithTaints:\n- effect: NoSchedule\n  key: dedicated\n  value: gpu\n",
				"clientCAFile: " + KubeadmCAPath, "mode: Webhook"}},
			KubeadmKubeletEnvPath: {perm: "0644", exact: []byte(
				"KUBELET_EXTRA_ARGS=--node-labels=example.com/tier=batch,kelp.dev/pool=workers,node.kubernetes.io/lifecycle=spot\n")},
			KubeadmRegistryAuthPath: {perm: "0600", exact: auth},
		}, [][]string{{"systemctl", "enable", "--now", "kubelet"}}},
		{ProfileOpenShift311, map[string]wantFile{
			OpenShiftSettingsPath:            {perm: "0644", exact: []byte("openshift_node_config_name: node-config-compute\n")},
			OpenShiftBootstrapKubeconfigPath: {perm: "0600", exact: kubeconfig},
			OpenShiftRegistryAuthPath:        {perm: "0600", exact: auth},
			OpenShiftAWSConfPath:             {perm: "0644", exact: []byte("[Global]\nZone = us-east-1\n")},
		}, [][]string{
			{"ansible-playbook", "/root/openshift_bootstrap/bootstrap.yml"},
			{"systemctl", "restart", "systemd-hostnamed"},
			{"systemctl", "restart", "NetworkManager"},
			{"systemctl", "enable", "atomic-openshift-node"},
			{"systemctl", "start", "atomic-openshift-node"},
		}},
		{ProfileLocal, map[string]wantFile{
			LocalBootstrapKubeconfigPath: {perm: "0600", exact: kubeconfig},
			LocalNodeConfigPath:          {perm: "0644", contains: []string{"kind: NodeConfig"}},
			LocalRegistryAuthPath:        {perm: "0600", exact: auth},
		}, [][]string{{"kelp", "node", "--root", "/"}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.profile), func(t *testing.T) {
			r, err := Render(testInput(t, tt.profile))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !bytes.HasPrefix(r.Data, []byte("#cloud-config\n")) {
				t.Errorf("document does not start with #cloud-config: %.40q", r.Data)
			}
			var generic map[string]any
			if err := yaml.Unmarshal(r.Data, &generic); err != nil {
				t.Fatalf("document is not YAML: %v", err)
			}
			c, err := Decode(r.Data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkFiles(t, c, tt.files)
			var runcmd [][]string
			for _, cmd := range c.RunCmd {
				runcmd = append(runcmd, cmd.Argv)
			}
			if !reflect.DeepEqual(runcmd, tt.runcmd) {
				t.Errorf("runcmd = %q, want %q", runcmd, tt.runcmd)
			}
		})
	}
}

func checkFiles(t *testing.T, c CloudConfig, want map[string]wantFile) {
	t.Helper()
	if len(c.WriteFiles) != len(want) {
		t.Errorf("%d files written, want %d", len(c.WriteFiles), len(want))
	}
	for path, w := range want {
		f, ok := c.File(path)
		if !ok {
			t.Errorf("%s not written", path)
			continue
		}
		if f.Permissions != w.perm || f.Owner != "root:root" || f.Encoding != "b64" {
			t.Errorf("%s: permissions %q owner %q encoding %q, want %q root:root b64", path, f.Permissions, f.Owner, f.Encoding, w.perm)
		}
		data, err := f.Data()
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if w.exact != nil && !bytes.Equal(data, w.exact) {
			t.Errorf("%s content = %q, want %q", path, data, w.exact)
		}
		for _, s := range w.contains {
			if !bytes.Contains(data, []byte(s)) {
				t.Errorf("%s content does not contain %q:\n%s", path, s, data)
			}
		}
	}
}

func TestLocalNodeConfigRoundTrip(t *testing.T) {
	in := testInput(t, ProfileLocal)
	c, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	f, _ := c.File(LocalNodeConfigPath)
	data, err := f.Data()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ParseNodeConfig(data)
	if err != nil {
		t.Fatalf("ParseNodeConfig: %v", err)
	}
	want := NodeConfig{
		APIVersion: NodeConfigAPIVersion, Kind: NodeConfigKind, ClusterName: "demo", Pool: "workers",
		Labels: map[string]string{"example.com/tier": "batch", "node.kubernetes.io/lifecycle": "spot", PoolLabel: "workers"},
		Taints: in.Taints,
	}
	if !reflect.DeepEqual(nc, want) {
		t.Errorf("node config = %+v, want %+v", nc, want)
	}
}

func TestParseNodeConfigRejects(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown field", "apiVersion: kelp.dev/v1alpha1\nkind: NodeConfig\nclusterName: c\npool: p\nextra: 1\n", []string{"extra"}},
		{"wrong kind", "apiVersion: kelp.dev/v1alpha1\nkind: Node\nclusterName: c\npool: p\n", []string{"kind"}},
		{"missing pool", "apiVersion: kelp.dev/v1alpha1\nkind: NodeConfig\nclusterName: c\n", []string{"pool: Required"}},
		{"forbidden label", "apiVersion: kelp.dev/v1alpha1\nkind: NodeConfig\nclusterName: c\npool: p\nlabels:\n  node-role.kubernetes.io/worker: \"\"\n",
			[]string{"labels[node-role.kubernetes.io/worker]"}},
		{"bad taint", "apiVersion: kelp.dev/v1alpha1\nkind: NodeConfig\nclusterName: c\npool: p\ntaints:\n- key: a\n  effect: Sometimes\n",
			[]string{"taints[0].effect"}},
		{"not yaml", "{", []string{"parse node config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNodeConfig([]byte(tt.doc))
			testenv.CheckError(t, err, tt.want...)
		})
	}
}

// manyRegistries returns a docker config.json with n registries whose auth
// is made from secret(i).
func manyRegistries(n int, secret func(i int) string) []byte {
	auths := map[string]map[string]string{}
	for i := range n {
		auths[fmt.Sprintf("registry-%04d.example.com", i)] = map[string]string{"auth": secret(i)}
	}
	data, _ := json.Marshal(map[string]any{"auths": auths})
	return data
}

func TestRenderGzipsLargeDocuments(t *testing.T) {
	in := testInput(t, ProfileKubeadm)
	in.RegistryAuth = manyRegistries(300, func(int) string { return "a2VscDpzYW1lLXBhc3N3b3Jk" })
	r, err := Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !r.Gzipped || len(r.Document) <= MaxUserDataSize || len(r.Data) > MaxUserDataSize {
		t.Fatalf("gzipped=%v document=%d data=%d; want a gzipped document over %d bytes fitting in it",
			r.Gzipped, len(r.Document), len(r.Data), MaxUserDataSize)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("Data is not gzip: %v", err)
	}
	zr.Close()
	got, err := Decode(r.Data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want, err := Decode(r.Document)
	if err != nil {
		t.Fatalf("Decode document: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("decoding the gzip and the document differ")
	}
	f, _ := got.File(KubeadmRegistryAuthPath)
	if data, _ := f.Data(); !bytes.Equal(data, in.RegistryAuth) {
		t.Error("registry auth does not round-trip through gzip")
	}
	again, _ := Render(in)
	if !bytes.Equal(again.Data, r.Data) {
		t.Error("gzipped output is not deterministic")
	}
}

func TestRenderRejectsHugeDocuments(t *testing.T) {
	in := testInput(t, ProfileLocal)
	in.RegistryAuth = manyRegistries(60, func(int) string {
		b := make([]byte, 300)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	})
	_, err := Render(in)
	if err == nil {
		t.Fatal("Render accepted an incompressible document over the limit")
	}
	var docSize, gzSize int
	if _, serr := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "user-data is"):],
		"user-data is %d bytes, %d bytes gzipped", &docSize, &gzSize); serr != nil {
		t.Fatalf("error %q does not state both sizes: %v", err, serr)
	}
	if docSize <= MaxUserDataSize || gzSize <= MaxUserDataSize || !strings.Contains(err.Error(), "16384") {
		t.Errorf("error %q: sizes %d/%d, want both over the limit and the limit stated", err, docSize, gzSize)
	}
}

func TestDecodeRejects(t *testing.T) {
	bomb, err := gzipBytes(append([]byte("#cloud-config\n"), make([]byte, MaxDecodedSize)...))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "#cloud-config"},
		{"shell script", []byte("#!/bin/sh\necho hi\n"), "#cloud-config"},
		{"bad yaml", []byte("#cloud-config\nwrite_files: [\n"), "decode user-data"},
		{"bad runcmd", []byte("#cloud-config\nruncmd:\n- {a: b}\n"), "runcmd"},
		{"corrupt gzip", []byte{0x1f, 0x8b, 0, 1, 2}, "gunzip"},
		{"gzip bomb", bomb, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data)
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCommandForms(t *testing.T) {
	c, err := Decode([]byte("#cloud-config\r\nruncmd:\n- [ls, -l]\n- echo hi > /tmp/x\n"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := []Command{{Argv: []string{"ls", "-l"}}, {Shell: "echo hi > /tmp/x"}}
	if !reflect.DeepEqual(c.RunCmd, want) {
		t.Errorf("runcmd = %+v, want %+v", c.RunCmd, want)
	}
	out, err := CloudConfig{RunCmd: want}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "- - ls\n  - -l\n- echo hi > /tmp/x\n") {
		t.Errorf("marshalled runcmd:\n%s", out)
	}
}

func TestFileHelpers(t *testing.T) {
	tests := []struct {
		file    File
		data    string
		mode    fs.FileMode
		wantErr bool
	}{
		{newFile("/a", []byte("x"), PermSecret), "x", 0o600, false},
		{File{Path: "/b", Content: "plain"}, "plain", 0o644, false},
		{File{Path: "/c", Content: "!!", Encoding: "b64"}, "", 0o644, true},
		{File{Path: "/d", Content: "x", Encoding: "gz"}, "", 0o644, true},
		{File{Path: "/e", Content: "x", Permissions: "rw"}, "x", 0, true},
	}
	for _, tt := range tests {
		data, derr := tt.file.Data()
		mode, merr := tt.file.Mode()
		if (derr != nil || merr != nil) != tt.wantErr || (!tt.wantErr && (string(data) != tt.data || mode != tt.mode)) {
			t.Errorf("%s: Data() = %q, %v; Mode() = %v, %v", tt.file.Path, data, derr, mode, merr)
		}
		if derr != nil && !strings.Contains(derr.Error(), tt.file.Path) || merr != nil && !strings.Contains(merr.Error(), tt.file.Path) {
			t.Errorf("%s: errors must name the path: %v / %v", tt.file.Path, derr, merr)
		}
	}
}
