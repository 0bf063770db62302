package examples

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/pool"
)

func TestClusterYAMLParses(t *testing.T) {
	cfg, err := pool.ParseConfig(ClusterYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Pools) == 0 {
		t.Fatal("no pools")
	}
}

// TestScaleYAML keeps the scale benchmark's pool able to hold a thousand
// nodes of 30 pods of 130m each, bound by cpu, not by the ENI pod limit.
func TestScaleYAML(t *testing.T) {
	cfg, err := pool.ParseConfig(ScaleYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Pools) != 1 || cfg.Pools[0].MinSize != 0 || cfg.Pools[0].MaxSize < 1000 {
		t.Fatalf("pools %+v: want one pool from 0 to at least 1,000", cfg.Pools)
	}
	for _, name := range cfg.Pools[0].InstanceTypes {
		it, err := catalog.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		alloc := it.Allocatable()
		if perNode := alloc.Cpu().MilliValue() / 130; perNode != 30 || it.MaxPods() < 30 {
			t.Errorf("%s: %d pods of 130m a node, max pods %d; want 30 on cpu", name, perNode, it.MaxPods())
		}
	}
}

// TestWebYAML keeps the README's workload valid: a Deployment on the
// general pool and its PDB.
func TestWebYAML(t *testing.T) {
	data, err := os.ReadFile("web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			if o.Spec.Template.Spec.NodeSelector[pool.PoolTag] != "general" {
				t.Errorf("deployment does not select the general pool: %v", o.Spec.Template.Spec.NodeSelector)
			}
			if cpu := o.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; cpu.String() != "500m" {
				t.Errorf("cpu request %s, the README says 500m", cpu.String())
			}
		case *policyv1.PodDisruptionBudget:
		default:
			t.Errorf("unexpected %T", obj)
		}
		kinds = append(kinds, obj.GetObjectKind().GroupVersionKind().Kind)
	}
	if strings.Join(kinds, ",") != "Deployment,PodDisruptionBudget" {
		t.Errorf("kinds %v", kinds)
	}
}
