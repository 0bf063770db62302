package catalog

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestKubeReserved(t *testing.T) {
	tests := []struct {
		vcpus, maxPods int
		wantCPU        int64 // millicores
		wantMemMiB     int64
	}{
		{vcpus: 1, maxPods: 4, wantCPU: 60, wantMemMiB: 255 + 11*4},       // 60
		{vcpus: 2, maxPods: 29, wantCPU: 70, wantMemMiB: 574},             // 60+10
		{vcpus: 3, maxPods: 0, wantCPU: 75, wantMemMiB: 255},              // 60+10+5
		{vcpus: 4, maxPods: 58, wantCPU: 80, wantMemMiB: 255 + 11*58},     // 60+10+5+5
		{vcpus: 5, maxPods: 0, wantCPU: 82, wantMemMiB: 255},              // 80+2.5, truncated
		{vcpus: 8, maxPods: 58, wantCPU: 90, wantMemMiB: 893},             // 80+4×2.5
		{vcpus: 16, maxPods: 234, wantCPU: 110, wantMemMiB: 255 + 11*234}, // 80+12×2.5
		{vcpus: 48, maxPods: 737, wantCPU: 190, wantMemMiB: 255 + 11*737}, // 80+44×2.5
		{vcpus: 96, maxPods: 737, wantCPU: 310, wantMemMiB: 8362},         // 80+92×2.5
		{vcpus: 0, maxPods: 0, wantCPU: 0, wantMemMiB: 255},               // degenerate
		{vcpus: -3, maxPods: -1, wantCPU: 0, wantMemMiB: 255},             // negatives count as zero
	}
	for _, tt := range tests {
		cpu, mem := KubeReserved(tt.vcpus, tt.maxPods)
		if cpu != tt.wantCPU || mem != tt.wantMemMiB {
			t.Errorf("KubeReserved(%d, %d) = %dm, %dMi; want %dm, %dMi",
				tt.vcpus, tt.maxPods, cpu, mem, tt.wantCPU, tt.wantMemMiB)
		}
	}
}

// TestKubeReservedReference checks the range arithmetic against a naive
// per-core sum. Only the last range can produce a fraction, so truncating
// each range equals flooring the total.
func TestKubeReservedReference(t *testing.T) {
	perCore := func(core int) float64 { // millicores reserved for the core-th core (1-based)
		switch {
		case core == 1:
			return 60
		case core == 2:
			return 10
		case core <= 4:
			return 5
		default:
			return 2.5
		}
	}
	for vcpus := 1; vcpus <= 448; vcpus++ {
		var want float64
		for c := 1; c <= vcpus; c++ {
			want += perCore(c)
		}
		got, _ := KubeReserved(vcpus, 0)
		if got != int64(math.Floor(want)) {
			t.Fatalf("KubeReserved(%d, 0) cpu = %dm, want %vm", vcpus, got, math.Floor(want))
		}
	}
}

// TestMaxPodsEKS compares computed max pods with the EKS AMI's eni-max-pods.txt.
func TestMaxPodsEKS(t *testing.T) {
	want := map[string]int{
		"t3.micro": 4, "t3.small": 11, "t3.medium": 17, "t3.large": 35, "t3.xlarge": 58,
		"t3a.medium": 17,
		"m5.large":   29, "m5.xlarge": 58, "m5.2xlarge": 58, "m5.4xlarge": 234,
		"m6i.large": 29, "m6g.large": 29, "m7i.large": 29,
		"c5.large": 29, "c5.xlarge": 58, "c6i.large": 29, "c7i.large": 29,
		"r5.large": 29, "r5.2xlarge": 58,
		"g4dn.xlarge": 29, "g4dn.2xlarge": 29, "g5.xlarge": 58, "g5.2xlarge": 58,
		"p3.2xlarge": 58,
	}
	for name, w := range want {
		it, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := it.MaxPods(); got != w {
			t.Errorf("%s: MaxPods() = %d, want %d (ENIs %d, IPv4/ENI %d)",
				name, got, w, it.MaxENIs, it.IPv4PerENI)
		}
	}
}

func TestAllocatableM5Large(t *testing.T) {
	it, err := Lookup("m5.large")
	if err != nil {
		t.Fatal(err)
	}
	wantCap := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("2"),
		corev1.ResourceMemory:           resource.MustParse("8Gi"),
		corev1.ResourcePods:             resource.MustParse("29"),
		corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"),
	}
	wantAlloc := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("1930m"),
		corev1.ResourceMemory:           resource.MustParse("7518Mi"), // 8192 - (255+11*29) - 100
		corev1.ResourcePods:             resource.MustParse("29"),
		corev1.ResourceEphemeralStorage: resource.MustParse("19327352832"), // 20Gi - 10%
	}
	assertResources(t, "capacity", it.Capacity(), wantCap)
	assertResources(t, "allocatable", it.Allocatable(), wantAlloc)
}

func TestAllocatableOptionsAndGPU(t *testing.T) {
	g, err := Lookup("g4dn.xlarge")
	if err != nil {
		t.Fatal(err)
	}
	// 4 vCPU → 80m; 16384 - (255+11*29) - 100 = 15710Mi; 100Gi - 10% = 90Gi.
	want := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("3920m"),
		corev1.ResourceMemory:           resource.MustParse("15710Mi"),
		corev1.ResourcePods:             resource.MustParse("29"),
		corev1.ResourceEphemeralStorage: resource.MustParse("90Gi"),
		ResourceNVIDIAGPU:               resource.MustParse("1"),
	}
	assertResources(t, "g4dn.xlarge allocatable", g.Allocatable(WithRootVolumeGiB(100)), want)

	// Invalid sizes keep the default; 25Gi - 10% rounds the reservation up.
	m, _ := Lookup("m5.large")
	tests := []struct {
		opt  Option
		want int64
	}{
		{WithRootVolumeGiB(0), 20 << 30 * 9 / 10},
		{WithRootVolumeGiB(-5), 20 << 30 * 9 / 10},
		{WithRootVolumeGiB(25), 25<<30 - (25<<30*10+99)/100},
	}
	for _, tt := range tests {
		got := m.Allocatable(tt.opt)[corev1.ResourceEphemeralStorage]
		if got.Value() != tt.want {
			t.Errorf("ephemeral-storage = %d, want %d", got.Value(), tt.want)
		}
	}
}

func assertResources(t *testing.T, what string, got, want corev1.ResourceList) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d resources %v, want %d", what, len(got), keys(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok || g.Cmp(w) != 0 {
			t.Errorf("%s[%s] = %s, want %s", what, name, g.String(), w.String())
		}
	}
}

func keys(rl corev1.ResourceList) []corev1.ResourceName {
	ks := make([]corev1.ResourceName, 0, len(rl))
	for k := range rl {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestCatalogSane(t *testing.T) {
	all := All()
	if len(all) < 30 {
		t.Errorf("catalog has %d instance types, want at least 30", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b InstanceType) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("All() is not sorted by name")
	}
	if names := Names(); !slices.IsSorted(names) || len(names) != len(all) {
		t.Errorf("Names() not sorted or wrong length: %v", names)
	}
	seen := map[string]bool{}
	for _, it := range all {
		if seen[it.Name] {
			t.Errorf("duplicate instance type %s", it.Name)
		}
		seen[it.Name] = true
		for _, problem := range problems(it) {
			t.Errorf("%s: %s", it.Name, problem)
		}
	}
}

// problems returns what is wrong with one table entry.
func problems(it InstanceType) []string {
	var ps []string
	check := func(ok bool, p string) {
		if !ok {
			ps = append(ps, p)
		}
	}
	family, _, _ := strings.Cut(it.Name, ".")
	check(it.Family == family, "family does not match name")
	check(it.Category != "", "no category")
	check(it.VCPUs > 0, "vCPUs not positive")
	check(it.MemoryMiB > 0, "memory not positive")
	check(it.Architecture == ArchitectureX8664 || it.Architecture == ArchitectureARM64, "bad architecture")
	check(it.MaxENIs > 0 && it.IPv4PerENI > 1, "bad ENI limits")
	check(it.OnDemandPrice > 0 && it.SpotPrice > 0, "price not positive")
	check(it.SpotPrice < it.OnDemandPrice, "spot price not below on-demand")
	isGPU := it.Category == CategoryAcceleratedComputing
	check(isGPU == (it.GPU.Count > 0), "GPU count does not match category")
	if it.GPU.Count > 0 {
		check(it.GPU.Manufacturer == ManufacturerNVIDIA, "GPU manufacturer not NVIDIA")
		check(it.GPU.Model != "" && it.GPU.MemoryMiB > 0, "GPU model or memory missing")
	} else {
		check(it.GPU == GPUInfo{}, "GPU fields set without GPUs")
	}
	alloc := it.Allocatable()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		a := alloc[r]
		check(a.Sign() > 0, "allocatable "+string(r)+" not positive")
	}
	return ps
}

func TestGPUs(t *testing.T) {
	tests := []struct {
		name  string
		model string
		memMi int64
	}{
		{"g4dn.xlarge", "T4", 16384},
		{"g4dn.2xlarge", "T4", 16384},
		{"g5.xlarge", "A10G", 24576},
		{"g5.2xlarge", "A10G", 24576},
		{"p3.2xlarge", "V100", 16384},
	}
	for _, tt := range tests {
		it, err := Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		want := GPUInfo{Count: 1, Manufacturer: ManufacturerNVIDIA, Model: tt.model, MemoryMiB: tt.memMi}
		if it.GPU != want || it.GPU.TotalMemoryMiB() != tt.memMi {
			t.Errorf("%s GPU = %+v, want %+v", tt.name, it.GPU, want)
		}
		if q := it.Capacity()[ResourceNVIDIAGPU]; q.Value() != 1 {
			t.Errorf("%s capacity nvidia.com/gpu = %s, want 1", tt.name, q.String())
		}
	}
	m, _ := Lookup("m5.large")
	if _, ok := m.Capacity()[ResourceNVIDIAGPU]; ok {
		t.Error("m5.large capacity has nvidia.com/gpu")
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{"m9.huge", "", "M5.LARGE"} {
		_, err := Lookup(name)
		if !errors.Is(err, ErrUnknownInstanceType) {
			t.Errorf("Lookup(%q) error = %v, want ErrUnknownInstanceType", name, err)
			continue
		}
		testenv.ErrorContains(t, err, `"`+name+`"`) // names the type
	}
}

func TestPrice(t *testing.T) {
	tests := []struct {
		name    string
		ct      CapacityType
		want    float64
		wantErr error
	}{
		{"m5.large", CapacityTypeOnDemand, 0.096, nil},
		{"t3.micro", CapacityTypeOnDemand, 0.0104, nil},
		{"p3.2xlarge", CapacityTypeOnDemand, 3.06, nil},
		{"m5.large", CapacityTypeSpot, 0.038, nil},
		{"m5.large", "reserved", 0, ErrUnknownCapacityType},
		{"m9.huge", CapacityTypeSpot, 0, ErrUnknownInstanceType},
	}
	for _, tt := range tests {
		got, err := Price(tt.name, tt.ct)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("Price(%q, %q) = %v, %v; want %v, %v", tt.name, tt.ct, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAllReturnsCopy(t *testing.T) {
	all := All()
	orig := all[0]
	all[0].Name = "mutated"
	all[0].VCPUs = 999
	all[0].GPU.Count = 7
	slices.Reverse(all)
	names := Names()
	names[0] = "mutated"

	if again := All(); again[0] != orig {
		t.Errorf("All()[0] = %+v after mutating a previous result, want %+v", again[0], orig)
	}
	if _, err := Lookup(orig.Name); err != nil {
		t.Errorf("Lookup(%q) after mutation: %v", orig.Name, err)
	}
	if Names()[0] != orig.Name {
		t.Errorf("Names()[0] = %q, want %q", Names()[0], orig.Name)
	}
}

func TestKubernetesArch(t *testing.T) {
	if got := ArchitectureX8664.KubernetesArch(); got != "amd64" {
		t.Errorf("x86_64 → %q, want amd64", got)
	}
	if got := ArchitectureARM64.KubernetesArch(); got != "arm64" {
		t.Errorf("arm64 → %q, want arm64", got)
	}
}

func BenchmarkLookup(b *testing.B) {
	names := Names()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Lookup(names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
