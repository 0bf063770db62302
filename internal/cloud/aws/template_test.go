package aws

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strconv"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// wantResources fails unless got equals want quantity by quantity.
func wantResources(t *testing.T, what string, got, want corev1.ResourceList) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for name, q := range want {
		if g, ok := got[name]; !ok || g.Cmp(q) != 0 {
			t.Errorf("%s[%s] = %v, want %v", what, name, got[name], q.String())
		}
	}
}

func catalogType(t *testing.T, name string) catalog.InstanceType {
	t.Helper()
	it, err := catalog.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestTemplateForPoolAtZero(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "workers", InstanceTypes: []string{"m5.large"}, MaxSize: 5,
		Labels: map[string]string{"team": "ml", "example.com/tier": "gold"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule}}})
	e.tagGroup(name,
		nodeTemplateResourcesTag+"ephemeral-storage", "100Gi",
		nodeTemplateResourcesTag+"example.com/dongle", "2",
		pool.NodeTemplateLabelTag+corev1.LabelTopologyZone, "us-east-1b", // a tag overrides a computed label
		pool.NodeTemplateTaintTag+"example.com/noexec", "NoExecute")
	p := e.provider(Config{})
	g := nodeGroup(t, p, name)
	if g.TargetSize != 0 || len(g.Instances) != 0 || len(g.Errors) != 0 {
		t.Fatalf("group at zero: target %d, instances %v, errors %v", g.TargetSize, g.Instances, g.Errors)
	}
	tmpl := g.Template
	wantLabels := map[string]string{
		corev1.LabelArchStable: "amd64", corev1.LabelOSStable: "linux", corev1.LabelInstanceTypeStable: "m5.large",
		corev1.LabelTopologyRegion: "us-east-1", corev1.LabelTopologyZone: "us-east-1b",
		pool.PoolTag: "workers", pool.CapacityTypeLabel: "on-demand", "team": "ml", "example.com/tier": "gold",
	}
	if !maps.Equal(tmpl.Labels, wantLabels) {
		t.Errorf("labels = %v\nwant %v", tmpl.Labels, wantLabels)
	}
	wantTaints := []corev1.Taint{{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule},
		{Key: "example.com/noexec", Effect: corev1.TaintEffectNoExecute}}
	if !reflect.DeepEqual(tmpl.Taints, wantTaints) {
		t.Errorf("taints = %v, want %v", tmpl.Taints, wantTaints)
	}
	it := catalogType(t, "m5.large")
	overrides := corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"), "example.com/dongle": resource.MustParse("2")}
	wantCap, wantAlloc := it.Capacity(), it.Allocatable()
	maps.Copy(wantCap, overrides)
	maps.Copy(wantAlloc, overrides)
	wantResources(t, "capacity", tmpl.Capacity, wantCap)
	wantResources(t, "allocatable", tmpl.Allocatable, wantAlloc)
	if len(tmpl.InstanceTypes) != 1 || tmpl.InstanceTypes[0].Price != it.OnDemandPrice || tmpl.CloudPicksType {
		t.Errorf("instance types = %+v, want m5.large at %v", tmpl.InstanceTypes, it.OnDemandPrice)
	}
	if tmpl.CapacityType != catalog.CapacityTypeOnDemand || tmpl.ImageID == "" ||
		!reflect.DeepEqual(tmpl.Zones, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) {
		t.Errorf("capacity type %s, image %q, zones %v", tmpl.CapacityType, tmpl.ImageID, tmpl.Zones)
	}
}

func TestTemplateMixedInstancesSpot(t *testing.T) {
	e := newEnv(t, envOptions{})
	types := []string{"m5.large", "c5.xlarge", "m6g.large"}
	name := e.createPool(testCluster, pool.Spec{Name: "spotty", InstanceTypes: types, CapacityType: catalog.CapacityTypeSpot, MaxSize: 5})
	p := e.provider(Config{SpotPriceTTL: time.Hour})
	tmpl := nodeGroup(t, p, name).Template
	if tmpl.CapacityType != catalog.CapacityTypeSpot || tmpl.Labels[pool.CapacityTypeLabel] != "spot" {
		t.Errorf("capacity type %s, label %q", tmpl.CapacityType, tmpl.Labels[pool.CapacityTypeLabel])
	}
	if len(tmpl.InstanceTypes) != len(types) || !tmpl.CloudPicksType {
		t.Fatalf("instance types = %+v (the cloud picks: %v), want %v picked by the group", tmpl.InstanceTypes, tmpl.CloudPicksType, types)
	}
	for i, want := range types {
		got, it := tmpl.InstanceTypes[i], catalogType(t, want)
		if got.Name != want || got.Architecture != it.Architecture.KubernetesArch() {
			t.Errorf("type %d = %s/%s, want %s/%s", i, got.Name, got.Architecture, want, it.Architecture.KubernetesArch())
		}
		wantResources(t, want+" capacity", got.Capacity, it.Capacity())
		wantResources(t, want+" allocatable", got.Allocatable, it.Allocatable())
		if wantPrice := lowestSpotPrice(t, e, want); got.Price != wantPrice {
			t.Errorf("%s price = %v, want the lowest spot price %v", want, got.Price, wantPrice)
		}
	}
	wantResources(t, "template capacity", tmpl.Capacity, catalogType(t, "m5.large").Capacity())
	arm, ok := tmpl.ForInstanceType("m6g.large")
	if !ok || arm.Labels[corev1.LabelArchStable] != "arm64" || arm.Labels[corev1.LabelInstanceTypeStable] != "m6g.large" ||
		len(arm.InstanceTypes) != 1 || tmpl.Labels[corev1.LabelArchStable] != "amd64" {
		t.Errorf("ForInstanceType(m6g.large) = %v, %v (template labels %v)", arm.Labels, ok, tmpl.Labels)
	}
	wantResources(t, "m6g.large template capacity", arm.Capacity, catalogType(t, "m6g.large").Capacity())

	calls := e.requests("DescribeSpotPriceHistory")
	nodeGroup(t, p, name)
	if got := e.requests("DescribeSpotPriceHistory"); got != calls {
		t.Errorf("spot prices fetched again within their TTL: %d calls, want %d", got, calls)
	}
	e.clock.Step(time.Hour)
	nodeGroup(t, p, name)
	if got := e.requests("DescribeSpotPriceHistory"); got != calls+1 {
		t.Errorf("spot prices after the TTL: %d calls, want %d", got, calls+1)
	}
}

// lowestSpotPrice asks the cloud for the type's lowest current spot price.
func lowestSpotPrice(t *testing.T, e *env, instanceType string) float64 {
	t.Helper()
	out, err := e.ec2.DescribeSpotPriceHistory(bg, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: []ec2types.InstanceType{ec2types.InstanceType(instanceType)}, ProductDescriptions: []string{"Linux/UNIX"}})
	if err != nil || len(out.SpotPriceHistory) == 0 {
		t.Fatalf("spot prices of %s: %v", instanceType, err)
	}
	lowest := 0.0
	for _, sp := range out.SpotPriceHistory {
		v, err := strconv.ParseFloat(sdkaws.ToString(sp.SpotPrice), 64)
		if err != nil {
			t.Fatal(err)
		}
		if lowest == 0 || v < lowest {
			lowest = v
		}
	}
	return lowest
}

func TestTemplateRootVolumeOfNamedGroup(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createPlainGroup("legacy", "c5.large", 50)
	e.tagGroup("legacy", "kubernetes.io/cluster/"+testCluster, "owned") // a named group must be the cluster's
	p := e.provider(Config{GroupNames: []string{"legacy"}})
	g := nodeGroup(t, p, "legacy")
	it := catalogType(t, "c5.large")
	wantResources(t, "capacity", g.Template.Capacity, it.Capacity(catalog.WithRootVolumeGiB(50)))
	wantResources(t, "allocatable", g.Template.Allocatable, it.Allocatable(catalog.WithRootVolumeGiB(50)))
	if g.Pool != "" || g.Template.Labels[pool.PoolTag] != "" || !reflect.DeepEqual(g.Template.Zones, []string{"us-east-1a", "us-east-1b"}) {
		t.Errorf("pool %q, labels %v, zones %v", g.Pool, g.Template.Labels, g.Template.Zones)
	}
}

func TestTemplateProblemsAreGroupErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "broken", InstanceTypes: []string{"m5.large"}, MaxSize: 2})
	e.tagGroup(name,
		pool.NodeTemplateTaintTag+"bad-effect", "x:Sometimes",
		nodeTemplateResourcesTag+"example.com/dongle", "lots",
		pool.NodeTemplateLabelTag+"bad label", "x")
	p := e.provider(Config{})
	for range 2 { // a standing problem is reported on every refresh
		g := nodeGroup(t, p, name)
		if len(g.Errors) != 3 {
			t.Fatalf("errors = %v, want 3", g.Errors)
		}
		for _, ge := range g.Errors {
			if !errors.Is(ge, cloud.ErrInvalidGroup) || ge.Group != name {
				t.Errorf("error %v: want ErrInvalidGroup of %s", ge, name)
			}
		}
		if len(g.Template.InstanceTypes) != 1 || len(g.Template.Taints) != 0 {
			t.Errorf("the template keeps what is valid: %+v", g.Template)
		}
	}
}

// fakeEC2 answers DescribeInstanceTypes for types the catalog lacks.
type fakeEC2 struct {
	EC2API
	types map[string]ec2types.InstanceTypeInfo
	calls int
}

func (f *fakeEC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	f.calls++
	out := &ec2.DescribeInstanceTypesOutput{}
	for _, n := range in.InstanceTypes {
		info, ok := f.types[string(n)]
		if !ok {
			return nil, &apiErr{code: "InvalidInstanceType", msg: "The following supplied instance types do not exist: [" + string(n) + "]"}
		}
		out.InstanceTypes = append(out.InstanceTypes, info)
	}
	return out, nil
}

// apiErr is a smithy.APIError.
type apiErr struct{ code, msg string }

func (e *apiErr) Error() string                 { return e.code + ": " + e.msg }
func (e *apiErr) ErrorCode() string             { return e.code }
func (e *apiErr) ErrorMessage() string          { return e.msg }
func (e *apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// noAutoScaling stands in for an Auto Scaling client a test never calls.
type noAutoScaling struct{ AutoScalingAPI }

func TestUnknownInstanceTypeFromDescribeInstanceTypes(t *testing.T) {
	info := ec2types.InstanceTypeInfo{InstanceType: "x9g.4xlarge",
		VCpuInfo:      &ec2types.VCpuInfo{DefaultVCpus: sdkaws.Int32(16)},
		MemoryInfo:    &ec2types.MemoryInfo{SizeInMiB: sdkaws.Int64(131072)},
		NetworkInfo:   &ec2types.NetworkInfo{MaximumNetworkInterfaces: sdkaws.Int32(8), Ipv4AddressesPerInterface: sdkaws.Int32(30)},
		ProcessorInfo: &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{ec2types.ArchitectureTypeArm64}},
		GpuInfo: &ec2types.GpuInfo{Gpus: []ec2types.GpuDeviceInfo{{Count: sdkaws.Int32(2), Manufacturer: sdkaws.String("NVIDIA"),
			Name: sdkaws.String("T4g"), MemoryInfo: &ec2types.GpuDeviceMemoryInfo{SizeInMiB: sdkaws.Int32(16384)}}}}}
	fake := &fakeEC2{types: map[string]ec2types.InstanceTypeInfo{"x9g.4xlarge": info}}
	p, err := New(bg, Config{ClusterName: testCluster}, Deps{AutoScaling: noAutoScaling{}, EC2: fake, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	got, missing, err := p.resolveTypes(bg, []string{"m5.large", "x9g.4xlarge", "nope.large"})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != "nope.large" {
		t.Errorf("missing = %v, want [nope.large]", missing)
	}
	// Same formula as the catalog's: a catalog entry of the same shape.
	want := catalog.InstanceType{Name: "x9g.4xlarge", VCPUs: 16, MemoryMiB: 131072, Architecture: catalog.ArchitectureARM64,
		MaxENIs: 8, IPv4PerENI: 30, GPU: catalog.GPUInfo{Count: 2, Manufacturer: "NVIDIA", Model: "T4g", MemoryMiB: 16384}}
	if !reflect.DeepEqual(got["x9g.4xlarge"], want) {
		t.Errorf("x9g.4xlarge = %+v\nwant %+v", got["x9g.4xlarge"], want)
	}
	wantResources(t, "allocatable", got["x9g.4xlarge"].Allocatable(), want.Allocatable())
	if q := got["x9g.4xlarge"].Capacity()[catalog.ResourceNVIDIAGPU]; q.Value() != 2 {
		t.Errorf("gpus = %v", q.String())
	}
	if got["m5.large"].OnDemandPrice == 0 {
		t.Error("m5.large did not come from the catalog")
	}
	calls := fake.calls
	if _, _, err := p.resolveTypes(bg, []string{"x9g.4xlarge"}); err != nil || fake.calls != calls {
		t.Errorf("described types are not cached: %d calls, want %d (%v)", fake.calls, calls, err)
	}
}

func TestInstanceTypeFromInfoRejectsIncompleteData(t *testing.T) {
	_, err := instanceTypeFromInfo(ec2types.InstanceTypeInfo{InstanceType: "z1.huge", VCpuInfo: &ec2types.VCpuInfo{DefaultVCpus: sdkaws.Int32(4)}})
	testenv.ErrorContains(t, err, "z1.huge")
}
