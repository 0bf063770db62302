package agentruntime

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func file(path, content, perm string) userdata.File {
	return userdata.File{Path: path, Content: base64.StdEncoding.EncodeToString([]byte(content)), Encoding: "b64", Permissions: perm}
}

func TestWriteFilesStaysInRoot(t *testing.T) {
	root := t.TempDir()
	if err := writeFiles(root, []userdata.File{file("/etc/kelp/x.yaml", "a: 1\n", "0600")}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "etc", "kelp", "x.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 0600", st.Mode().Perm())
	}
	for _, bad := range []string{"etc/relative", "/etc/../../escape", "/etc/./x", "/etc//x"} {
		testenv.ErrorContains(t, writeFiles(root, []userdata.File{file(bad, "x", "0644")}), bad)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); err == nil {
		t.Error("a file escaped the instance root")
	}
}

func TestBootRejectsBadUserDataAndIDs(t *testing.T) {
	r := &Runtime{Dir: t.TempDir()}
	inst := localcloud.InstanceInfo{
		ID: "i-0123456789abcdef0", InstanceType: "m5.large", Region: "us-east-1", AvailabilityZone: "us-east-1a",
		PrivateIP: "127.1.0.9", PrivateDNSName: "ip-127-1-0-9.ec2.internal", CapacityType: "on-demand", ImageID: localcloud.ImageLocalNode,
	}
	tests := []struct {
		name     string
		inst     localcloud.InstanceInfo
		userData string
		want     string
	}{
		{"not cloud-config", inst, "#!/bin/bash\necho hi\n", "user-data"},
		{"no node files (kubeadm-style user-data)", inst, "#cloud-config\nruncmd: [[systemctl, start, kubelet]]\n", "new node agent"},
		{"id with a path", localcloud.InstanceInfo{ID: "../i-1"}, "#cloud-config\n", "not a valid directory name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.ErrorContains(t, r.Boot(context.Background(), tt.inst, []byte(tt.userData)), tt.want)
			if r.Running() != 0 {
				t.Error("a failed boot left an agent running")
			}
		})
	}
	r.Stop("i-never-booted") // idempotent, no panic
}
