package cloud

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseProviderID(t *testing.T) {
	tests := []struct {
		in, zone, id string
		ok           bool
	}{
		{"aws:///us-east-1a/i-0123456789abcdef0", "us-east-1a", "i-0123456789abcdef0", true},
		{"aws:////i-0123456789abcdef0", "", "i-0123456789abcdef0", true},
		{"aws:///us-east-1a/i-12345678", "us-east-1a", "i-12345678", true},
		{"aws://us-east-1a/i-0123456789abcdef0", "", "", false},
		{"gce://p/z/n", "", "", false},
		{"aws:///us-east-1a/node-1", "", "", false},
		{"aws:///us-east-1a/i-0123456789abcdef0/x", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		zone, id, err := ParseProviderID(tt.in)
		if tt.ok != (err == nil) || zone != tt.zone || id != tt.id {
			t.Errorf("ParseProviderID(%q) = %q, %q, %v", tt.in, zone, id, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidProviderID) {
			t.Errorf("ParseProviderID(%q): %v is not ErrInvalidProviderID", tt.in, err)
		}
		if tt.ok && tt.zone != "" && ProviderID(zone, id) != tt.in {
			t.Errorf("ProviderID(%q, %q) = %q", zone, id, ProviderID(zone, id))
		}
	}
}

func TestInstanceStates(t *testing.T) {
	tests := []struct {
		s            InstanceState
		active, gone bool
	}{
		{InstanceStatePending, true, false},
		{InstanceStateRunning, true, false},
		{InstanceStateTerminating, false, true},
		{InstanceStateTerminated, false, true},
		{InstanceStateUnknown, false, false},
	}
	for _, tt := range tests {
		if tt.s.Active() != tt.active || tt.s.Gone() != tt.gone {
			t.Errorf("%s: Active %v Gone %v", tt.s, tt.s.Active(), tt.s.Gone())
		}
	}
}

func testTemplate() NodeTemplate {
	rl := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	return NodeTemplate{
		InstanceTypes: []InstanceType{
			{Name: "m5.large", Architecture: "amd64", Capacity: rl("2", "8Gi"), Allocatable: rl("1930m", "7518Mi"), Price: 0.096},
			{Name: "m6g.large", Architecture: "arm64", Capacity: rl("2", "8Gi"), Allocatable: rl("1930m", "7518Mi"), Price: 0.077},
		},
		Zones:       []string{"us-east-1a", "us-east-1b"},
		Labels:      map[string]string{corev1.LabelArchStable: "amd64", corev1.LabelInstanceTypeStable: "m5.large", corev1.LabelTopologyZone: "us-east-1a", "team": "ml"},
		Capacity:    rl("2", "8Gi"),
		Allocatable: rl("1930m", "7518Mi"),
	}
}

func TestNodeTemplateVariants(t *testing.T) {
	tmpl := testTemplate()
	arm, ok := tmpl.ForInstanceType("m6g.large")
	if !ok || arm.Labels[corev1.LabelArchStable] != "arm64" || arm.Labels[corev1.LabelInstanceTypeStable] != "m6g.large" ||
		arm.Labels["team"] != "ml" || len(arm.InstanceTypes) != 1 || arm.InstanceTypes[0].Price != 0.077 {
		t.Errorf("ForInstanceType(m6g.large) = %+v, %v", arm, ok)
	}
	if tmpl.Labels[corev1.LabelArchStable] != "amd64" || len(tmpl.InstanceTypes) != 2 {
		t.Error("ForInstanceType changed the template it was called on")
	}
	if _, ok := tmpl.ForInstanceType("c5.large"); ok {
		t.Error("ForInstanceType of a type the group does not launch")
	}
	b, ok := tmpl.ForZone("us-east-1b")
	if !ok || b.Labels[corev1.LabelTopologyZone] != "us-east-1b" || len(b.Zones) != 1 || tmpl.Labels[corev1.LabelTopologyZone] != "us-east-1a" {
		t.Errorf("ForZone(us-east-1b) = %+v, %v", b, ok)
	}
	if _, ok := tmpl.ForZone("us-east-1c"); ok {
		t.Error("ForZone of a zone the group does not use")
	}
}

func TestNodeGroupCloneSharesNothing(t *testing.T) {
	g := NodeGroup{ID: "g", Template: testTemplate(), Instances: []Instance{{ID: "i-1", PrivateIPs: []string{"10.0.0.1"},
		Error: &InstanceError{Code: "c"}, State: InstanceStateRunning}}, Errors: []GroupError{{Group: "g"}}}
	c := g.Clone()
	c.Instances[0].PrivateIPs[0] = "x"
	c.Instances[0].Error.Code = "x"
	c.Template.Labels["team"] = "x"
	c.Template.InstanceTypes[0].Capacity[corev1.ResourceCPU] = resource.MustParse("64")
	c.Template.Capacity[corev1.ResourceCPU] = resource.MustParse("64")
	if g.Instances[0].PrivateIPs[0] != "10.0.0.1" || g.Instances[0].Error.Code != "c" || g.Template.Labels["team"] != "ml" ||
		g.Template.InstanceTypes[0].Capacity.Cpu().String() != "2" || g.Template.Capacity.Cpu().String() != "2" {
		t.Errorf("the clone shares state with the original: %+v", g)
	}
	if g.ActiveInstances() != 1 {
		t.Errorf("ActiveInstances = %d", g.ActiveInstances())
	}
}

func TestGroupError(t *testing.T) {
	e := GroupError{Err: ErrInsufficientCapacity, Group: "kelp-dev-general", InstanceType: "m5.large",
		AvailabilityZone: "us-east-1a", Message: "no capacity"}
	var err error = e
	if !errors.Is(err, ErrInsufficientCapacity) || errors.Is(err, ErrQuotaExceeded) {
		t.Errorf("errors.Is on %v", err)
	}
	if got := err.Error(); !strings.Contains(got, "kelp-dev-general m5.large in us-east-1a: insufficient capacity: no capacity") {
		t.Errorf("Error() = %q", got)
	}
	if got := (GroupError{Err: ErrInvalidGroup, Group: "g", Message: "m"}).Error(); got != "group g: invalid group: m" {
		t.Errorf("Error() = %q", got)
	}
}
