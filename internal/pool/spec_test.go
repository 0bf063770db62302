package pool

import (
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func int32p(v int32) *int32 { return &v }

func TestSpecValidate(t *testing.T) {
	good := Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 3}
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   []string
	}{
		{"valid", func(*Spec) {}, nil},
		{"bad name", func(s *Spec) { s.Name = "General_1" }, []string{`name "General_1"`}},
		{"no types", func(s *Spec) { s.InstanceTypes = nil }, []string{"instanceTypes: at least one"}},
		{"unknown type", func(s *Spec) { s.InstanceTypes = []string{"m9.huge"} }, []string{"m9.huge"}},
		{"duplicate type", func(s *Spec) { s.InstanceTypes = []string{"m5.large", "m5.large"} }, []string{"listed twice"}},
		{"min above max", func(s *Spec) { s.MinSize, s.MaxSize = 5, 2 }, []string{"minSize 5 is greater than maxSize 2"}},
		{"desired out of range", func(s *Spec) { s.DesiredCapacity = int32p(9) }, []string{"desiredCapacity 9 is outside [1, 3]"}},
		{"bad capacity type", func(s *Spec) { s.CapacityType = "reserved" }, []string{`capacityType "reserved"`}},
		{"bad taint", func(s *Spec) { s.Taints = []corev1.Taint{{Key: "k", Effect: "Sometimes"}} }, []string{`effect "Sometimes"`}},
		{"metadata set", func(s *Spec) { s.Metadata = MetadataOptions{HTTPTokens: "optional", HopLimit: 64} }, nil},
		{"bad http tokens", func(s *Spec) { s.Metadata.HTTPTokens = "sometimes" }, []string{`pool general: metadata.httpTokens "sometimes"`}},
		{"hop limit too high", func(s *Spec) { s.Metadata.HopLimit = 65 }, []string{"metadata.hopLimit 65: want 1 to 64"}},
		{"negative hop limit", func(s *Spec) { s.Metadata.HopLimit = -1 }, []string{"metadata.hopLimit -1"}},
		{"drain heartbeat", func(s *Spec) { s.DrainHeartbeatTimeout = &metav1.Duration{Duration: 30 * time.Second} }, nil},
		{"drain heartbeat too short", func(s *Spec) { s.DrainHeartbeatTimeout = &metav1.Duration{Duration: 29 * time.Second} },
			[]string{"pool general: drainHeartbeatTimeout 29s: want whole seconds from 30s to 2h0m0s"}},
		{"ami id", func(s *Spec) { s.ImageID = "ami-0123456789abcdef0" }, nil},
		{"short ami id", func(s *Spec) { s.ImageID = "ami-01234567" }, nil},
		{"bad ami id", func(s *Spec) { s.ImageID = "ami-xyz" }, []string{`pool general: imageID "ami-xyz": want ami- followed by 8 or 17 hex digits, or resolve:ssm:PARAMETER`}},
		{"ssm parameter", func(s *Spec) {
			s.ImageID = "resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
		}, nil},
		{"ssm parameter with version", func(s *Spec) { s.ImageID = "resolve:ssm:golden-ami:3" }, nil},
		{"empty ssm parameter", func(s *Spec) { s.ImageID = "resolve:ssm:" }, []string{"want resolve:ssm: followed by an SSM parameter name"}},
		{"bad ssm parameter", func(s *Spec) { s.ImageID = "resolve:ssm:/a b" }, []string{`imageID "resolve:ssm:/a b"`}},
		{"every problem at once", func(s *Spec) { s.Name, s.MinSize, s.MaxSize = "X", 3, 1 }, []string{`name "X"`, "minSize 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.mutate(&s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want...)
		})
	}
}

func TestMetadataOptionsDefaults(t *testing.T) {
	tests := []struct {
		name     string
		in, over MetadataOptions
		want     MetadataOptions
	}{
		{"zero is required, 1", MetadataOptions{}, MetadataOptions{}, MetadataOptions{HTTPTokens: "required", HopLimit: 1}},
		{"set fields kept", MetadataOptions{HTTPTokens: "optional", HopLimit: 2}, MetadataOptions{}, MetadataOptions{HTTPTokens: "optional", HopLimit: 2}},
		{"overlay one field", MetadataOptions{HTTPTokens: "optional", HopLimit: 2}, MetadataOptions{HopLimit: 3}, MetadataOptions{HTTPTokens: "optional", HopLimit: 3}},
		{"overlay on unset", MetadataOptions{}, MetadataOptions{HTTPTokens: "optional"}, MetadataOptions{HTTPTokens: "optional", HopLimit: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Overlay(tt.over).WithDefaults(); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	spec := LaunchTemplateSpec("prod", Spec{Name: "general", InstanceTypes: []string{"m5.large"}}, nil)
	if spec.Metadata != (MetadataOptions{HTTPTokens: "required", HopLimit: 1}) {
		t.Errorf("launch template of a pool without metadata options: %+v", spec.Metadata)
	}
}

func TestGroupTags(t *testing.T) {
	tags := GroupTags("prod", Spec{
		Name: "gpu", CapacityType: "spot",
		Labels: map[string]string{"team": "ml"},
		Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}},
	})
	want := map[string]Tag{
		"kubernetes.io/cluster/prod":                                           {Value: "owned", Propagate: true},
		"kelp.dev/pool":                                                        {Value: "gpu", Propagate: true},
		"kelp.dev/join":                                                        {Value: "token", Propagate: true},
		"k8s.io/cluster-autoscaler/enabled":                                    {Value: "true"},
		"k8s.io/cluster-autoscaler/prod":                                       {Value: "owned"},
		"k8s.io/cluster-autoscaler/node-template/label/team":                   {Value: "ml"},
		"k8s.io/cluster-autoscaler/node-template/label/kelp.dev/pool":          {Value: "gpu"},
		"k8s.io/cluster-autoscaler/node-template/label/kelp.dev/capacity-type": {Value: "spot"},
		"k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu":         {Value: "true:NoSchedule"},
	}
	if len(tags) != len(want) {
		t.Fatalf("got %d tags, want %d: %+v", len(tags), len(want), tags)
	}
	for i, tag := range tags {
		w, ok := want[tag.Key]
		if !ok || w.Value != tag.Value || w.Propagate != tag.Propagate {
			t.Errorf("tag %s=%s (propagate %v) unexpected", tag.Key, tag.Value, tag.Propagate)
		}
		if i > 0 && tags[i-1].Key >= tag.Key {
			t.Error("tags not sorted by key")
		}
	}
}

func TestExampleClusterConfig(t *testing.T) {
	data, err := os.ReadFile("../../examples/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Pools) != 2 || c.Pools[0].Name != "general" || c.Pools[1].CapacityType != "spot" || c.Pools[1].MinSize != 0 {
		t.Errorf("examples/cluster.yaml parsed to %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "pools:\n- name: a\n  instanceTypes: [m5.large]\n  maxSize: 1\n  maxSzie: 2\n", "maxSzie"},
		{"duplicate pool", "pools:\n- {name: a, instanceTypes: [m5.large], maxSize: 1}\n- {name: a, instanceTypes: [m5.large], maxSize: 1}\n", `name "a" is used twice`},
		{"metadata", "pools:\n- {name: a, instanceTypes: [m5.large], maxSize: 1, metadata: {httpTokens: never}}\n", `metadata.httpTokens "never"`},
		{"drain heartbeat", "pools:\n- {name: a, instanceTypes: [m5.large], maxSize: 1, drainHeartbeatTimeout: 3h}\n", "drainHeartbeatTimeout 3h0m0s"},
		{"invalid pool", "pools:\n- {name: a, instanceTypes: [m5.large], minSize: 2, maxSize: 1}\n", "pools[0]: pool a: minSize 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}
