package whatif

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	yamlDocs := filepath.Join(dir, "objects.yaml")
	if err := os.WriteFile(yamlDocs, []byte(`apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: gp3}
provisioner: ebs.csi.aws.com
`), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, err := ReadFiles([]string{"testdata/cluster", yamlDocs})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Nodes) != 3 || len(objs.Pods) != 3 || len(objs.PDBs) != 1 || len(objs.Namespaces) != 2 || len(objs.StorageClasses) != 1 {
		t.Errorf("read %d nodes, %d pods, %d PDBs, %d namespaces, %d storage classes; want 3, 3, 1, 2, 1",
			len(objs.Nodes), len(objs.Pods), len(objs.PDBs), len(objs.Namespaces), len(objs.StorageClasses))
	}
	if objs.Pods[0].Name != "app-a" || objs.Pods[0].Spec.NodeName != "general-1" {
		t.Errorf("first pod (a PodList item without kind) = %s on %s", objs.Pods[0].Name, objs.Pods[0].Spec.NodeName)
	}
}

func TestReadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notObject := write("string.json", `"a string"`)
	itemString := write("items.json", `{"kind": "List", "items": ["a string"]}`)
	badField := write("field.json", `{"kind": "Pod", "metadata": {"name": "a"}, "spec": "a string"}`)
	empty := write("empty.json", "")
	emptyList := write("empty-list.yaml", "kind: PodList\nitems: []\n")
	tests := []struct {
		paths []string
		want  []string
	}{
		{[]string{"testdata/bad-kind.json"}, []string{"testdata/bad-kind.json", "kind Secret is not one kelp reads", "PodDisruptionBudget"}},
		{[]string{"testdata/bad-malformed.json"}, []string{"testdata/bad-malformed.json", "malformed"}},
		{[]string{"testdata/missing.json"}, []string{"missing.json"}},
		{nil, []string{"no snapshot file"}},
		{[]string{notObject}, []string{notObject, "document 1: not a Kubernetes object or List: a string where an object belongs"}},
		{[]string{itemString}, []string{itemString, "items[0]: not a Kubernetes object or List: a string where an object belongs"}},
		{[]string{badField}, []string{badField, "malformed Pod: field spec is a string where an object belongs"}},
		{[]string{empty}, []string{empty, "holds no objects"}},
		{[]string{"testdata/cluster", emptyList}, []string{emptyList, "holds no objects"}},
		{[]string{"testdata/cluster", "testdata/bad-kind.json", "testdata/bad-malformed.json"}, []string{"bad-kind.json", "bad-malformed.json"}},
	}
	for _, tt := range tests {
		_, err := ReadFiles(tt.paths)
		if err == nil {
			t.Errorf("ReadFiles(%v): no error", tt.paths)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ReadFiles(%v) = %q, want it to name %q", tt.paths, err, w)
			}
		}
		if strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "whatif.") || strings.Contains(err.Error(), "v1.") {
			t.Errorf("ReadFiles(%v) = %q names Go types", tt.paths, err)
		}
	}
}
