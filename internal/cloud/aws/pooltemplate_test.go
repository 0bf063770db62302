package aws

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/pool"
)

func TestPoolTemplate(t *testing.T) {
	s := pool.Spec{Name: "batch", InstanceTypes: []string{"m5.large", "m6i.large"}, CapacityType: catalog.CapacityTypeSpot,
		MinSize: 0, MaxSize: 5, Labels: map[string]string{"kelp.dev/workload": "batch"},
		Taints: []corev1.Taint{{Key: "batch", Value: "true", Effect: corev1.TaintEffectNoSchedule}}}
	tmpl, err := PoolTemplate("demo", "us-east-1", []string{"us-east-1b", "us-east-1a"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.InstanceTypes) != 2 || tmpl.InstanceTypes[0].Name != "m5.large" || tmpl.CapacityType != catalog.CapacityTypeSpot {
		t.Fatalf("template types %+v, capacity type %s; want m5.large, m6i.large, spot", tmpl.InstanceTypes, tmpl.CapacityType)
	}
	m5, _ := catalog.Lookup("m5.large")
	want := m5.Allocatable()
	if tmpl.InstanceTypes[0].Price != m5.SpotPrice || !tmpl.Allocatable.Cpu().Equal(*want.Cpu()) {
		t.Errorf("m5.large price %v, allocatable cpu %v; want the catalog's spot price %v and allocatable", tmpl.InstanceTypes[0].Price,
			tmpl.Allocatable.Cpu(), m5.SpotPrice)
	}
	for k, v := range map[string]string{pool.PoolTag: "batch", pool.CapacityTypeLabel: "spot", "kelp.dev/workload": "batch",
		corev1.LabelTopologyZone: "us-east-1a", corev1.LabelTopologyRegion: "us-east-1", corev1.LabelInstanceTypeStable: "m5.large"} {
		if tmpl.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, tmpl.Labels[k], v)
		}
	}
	if len(tmpl.Taints) != 1 || tmpl.Taints[0] != s.Taints[0] {
		t.Errorf("taints = %v, want %v", tmpl.Taints, s.Taints)
	}

	s.InstanceTypes = []string{"m5.nosuch"}
	if _, err := PoolTemplate("demo", "", nil, s); err == nil || !strings.Contains(err.Error(), "m5.nosuch") {
		t.Errorf("unknown type: err = %v, want it named", err)
	}
}
