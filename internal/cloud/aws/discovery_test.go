package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// createPlainGroup creates a group with a launch template of its own and
// no kelp or cluster-autoscaler tags. rootGiB > 0 gives the template a root
// volume of that size.
func (e *env) createPlainGroup(name, instanceType string, rootGiB int32) {
	e.t.Helper()
	data := &ec2types.RequestLaunchTemplateData{ImageId: sdkaws.String(localcloud.ImageLocalNode),
		InstanceType: ec2types.InstanceType(instanceType), UserData: sdkaws.String("I2Nsb3VkLWNvbmZpZwo=")}
	if rootGiB > 0 {
		data.BlockDeviceMappings = []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: sdkaws.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: sdkaws.Int32(rootGiB)}}}
	}
	if _, err := e.ec2.CreateLaunchTemplate(bg, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: sdkaws.String(name),
		LaunchTemplateData: data}); err != nil {
		e.t.Fatalf("create launch template %s: %v", name, err)
	}
	if _, err := e.as.CreateAutoScalingGroup(bg, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: sdkaws.String(name), MinSize: sdkaws.Int32(0), MaxSize: sdkaws.Int32(2),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateName: sdkaws.String(name), Version: sdkaws.String("$Latest")},
		AvailabilityZones: []string{"us-east-1a", "us-east-1b"}}); err != nil {
		e.t.Fatalf("create group %s: %v", name, err)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, envOptions{})
	general := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	batch := e.createPool(testCluster, pool.Spec{Name: "batch", InstanceTypes: []string{"c5.xlarge"}, MaxSize: 3})
	other := e.createPool("prod", pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	owned := []string{"kubernetes.io/cluster/" + testCluster, "owned"}
	caTags := []string{"k8s.io/cluster-autoscaler/enabled", "true", "k8s.io/cluster-autoscaler/" + testCluster, "owned"}
	e.createPlainGroup("legacy", "m5.large", 0)
	e.tagGroup("legacy", owned...)
	e.createPlainGroup("ca-only", "m5.large", 0)
	e.tagGroup("ca-only", append(caTags, owned...)...)
	e.createPlainGroup("ca-unowned", "m5.large", 0) // cluster-autoscaler's tags, not the cluster's
	e.tagGroup("ca-unowned", caTags...)

	tests := []struct {
		name          string
		cfg           Config
		want, skipped []string
	}{
		{"kelp default: owned pools of the cluster", Config{}, []string{general, batch}, nil},
		{"cluster-autoscaler tags", Config{AutoDiscovery: []string{
			"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + testCluster}},
			[]string{"ca-only", general, batch}, []string{"ca-unowned"}},
		{"another cluster's pool is never managed", Config{AutoDiscovery: []string{"asg:tag=kelp.dev/pool=general,kubernetes.io/cluster/prod=owned"}},
			nil, []string{other}},
		{"explicit names", Config{GroupNames: []string{"legacy", general, "missing"}}, []string{general, "legacy"}, nil},
		{"names and tags", Config{GroupNames: []string{"legacy"}, AutoDiscovery: []string{"asg:tag=kelp.dev/pool=batch"}},
			[]string{batch, "legacy"}, nil},
		{"nothing matches", Config{AutoDiscovery: []string{"asg:tag=k8s.io/cluster-autoscaler/nowhere"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.provider(tt.cfg)
			groups, err := p.NodeGroups(bg) // refreshes first
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range groups {
				got = append(got, g.ID)
			}
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("groups = %v, want %v", got, want)
			}
			if skipped := p.SkippedGroups(); !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped = %v, want %v", skipped, tt.skipped)
			}
			for _, name := range tt.skipped {
				wantIs(t, p.SetTargetSize(bg, name, 1), cloud.ErrNotFound)
			}
		})
	}
}

func TestNamedGroupsMustBeTheClusters(t *testing.T) {
	e := newEnv(t, envOptions{})
	general := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	other := e.createPool("prod", pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	e.createPlainGroup("untagged", "m5.large", 0)
	e.createPlainGroup("shared", "m5.large", 0)
	e.tagGroup("shared", "kubernetes.io/cluster/"+testCluster, "shared")

	p := e.provider(Config{GroupNames: []string{general, other, "untagged", "shared"}})
	err := p.Refresh(bg)
	wantIs(t, err, cloud.ErrInvalidGroup)
	for _, name := range []string{other, "untagged", "shared"} {
		testenv.ErrorContains(t, err, "auto scaling group "+name+" (GroupNames, --nodes) lacks the tag kubernetes.io/cluster/"+testCluster+"=owned")
	}
	if strings.Contains(err.Error(), "group "+general+" ") {
		t.Errorf("the owned group is named in %v", err)
	}
	if _, err := p.NodeGroups(bg); err == nil {
		t.Error("NodeGroups answered without a successful refresh")
	}
	// Only the owned group, named: fine.
	if groups, err := e.provider(Config{GroupNames: []string{general}}).NodeGroups(bg); err != nil || len(groups) != 1 {
		t.Fatalf("owned named group: %v, %v", groups, err)
	}
}

func TestDiscoveredGroupFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 4,
		DesiredCapacity: int32p(2)})
	e.waitInService(name, 2)
	p := e.provider(Config{})
	g := nodeGroup(t, p, name)
	if g.Pool != "general" || g.MinSize != 1 || g.MaxSize != 4 || g.TargetSize != 2 {
		t.Errorf("group = %s pool %q min %d max %d target %d", g.ID, g.Pool, g.MinSize, g.MaxSize, g.TargetSize)
	}
	if len(g.Instances) != 2 || g.ActiveInstances() != 2 {
		t.Fatalf("instances = %+v", g.Instances)
	}
	for _, inst := range g.Instances {
		if inst.State != cloud.InstanceStateRunning || inst.CloudState != "InService" || inst.GroupName != name ||
			inst.Pool != "general" || inst.PrivateDNSName == "" || len(inst.PrivateIPs) != 1 || inst.InstanceType != "m5.large" ||
			inst.ProviderID != cloud.ProviderID(inst.AvailabilityZone, inst.ID) || inst.LaunchTime.IsZero() {
			t.Errorf("instance = %+v", inst)
		}
	}
	if len(g.Errors) != 0 {
		t.Errorf("errors = %v", g.Errors)
	}
}

func TestScalerRefusesUnmanagedGroups(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createPool("prod", pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	e.createPlainGroup("legacy", "m5.large", 0)
	p := e.provider(Config{})
	for _, group := range []string{pool.GroupName("prod", "general"), "legacy", "missing"} {
		err := p.SetTargetSize(context.Background(), group, 1)
		wantIs(t, err, cloud.ErrNotFound)
		err = p.DeleteInstances(context.Background(), group, []string{"i-0123456789abcdef0"})
		wantIs(t, err, cloud.ErrNotFound)
	}
	if n := e.requests("SetDesiredCapacity") + e.requests("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Errorf("%d scaling calls reached the cloud", n)
	}
	if errors.Is(p.SetTargetSize(bg, "legacy", 1), cloud.ErrOutOfRange) {
		t.Error("unmanaged group checked for range")
	}
}
