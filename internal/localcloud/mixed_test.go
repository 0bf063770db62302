package localcloud

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
)

func TestOnDemandTarget(t *testing.T) {
	tests := []struct {
		base, pct, total, want int
	}{
		{0, 100, 5, 5},
		{0, 0, 5, 0},
		{2, 25, 10, 4}, // 2 + 25% of 8
		{1, 50, 4, 3},  // 1 + 1.5 rounded up
		{3, 0, 2, 2},   // the base is not reached
		{0, 50, 1, 1},  // rounded up in favour of on-demand
		{0, 33, 3, 1},
		{0, 0, 0, 0},
	}
	for _, tt := range tests {
		d := distribution{OnDemandBaseCapacity: tt.base, OnDemandPercentageAboveBaseCapacity: tt.pct}
		if got := onDemandTarget(d, tt.total); got != tt.want {
			t.Errorf("onDemandTarget(base %d, %d%%, %d) = %d, want %d", tt.base, tt.pct, tt.total, got, tt.want)
		}
	}
}

func TestSplitLaunches(t *testing.T) {
	d := distribution{OnDemandBaseCapacity: 2, OnDemandPercentageAboveBaseCapacity: 25}
	tests := []struct {
		onDemand, spot, n, wantOD, wantSpot int
	}{
		{0, 0, 10, 4, 6},
		{4, 3, 3, 0, 3},
		{0, 6, 4, 4, 0}, // on-demand lost: catch up
		{5, 0, 1, 0, 1}, // too many on-demand already
	}
	for _, tt := range tests {
		od, sp := splitLaunches(d, tt.onDemand, tt.spot, tt.n)
		if od != tt.wantOD || sp != tt.wantSpot {
			t.Errorf("splitLaunches(%d od, %d spot, +%d) = %d, %d; want %d, %d", tt.onDemand, tt.spot, tt.n, od, sp, tt.wantOD, tt.wantSpot)
		}
	}
}

func TestChoosePool(t *testing.T) {
	pools := func(avail ...int) []candidate {
		c := []candidate{{InstanceType: "a", Priority: 0, Price: 0.10}, {InstanceType: "b", Priority: 1, Price: 0.05},
			{InstanceType: "c", Priority: 2, Price: 0.07}}
		for i := range c {
			c[i].Available = unlimited
			if i < len(avail) {
				c[i].Available = avail[i]
			}
		}
		return c
	}
	running := func(c []candidate, r ...int) []candidate {
		for i := range r {
			c[i].Running = r[i]
		}
		return c
	}
	tests := []struct {
		name     string
		strategy string
		spot     bool
		pools    int
		cands    []candidate
		want     string
	}{
		{"on-demand prioritized", "prioritized", false, 0, pools(), "a"},
		{"on-demand lowest-price", "lowest-price", false, 0, pools(), "b"},
		{"spot lowest-price, one pool", "lowest-price", true, 1, running(pools(), 0, 5, 0), "b"},
		{"spot lowest-price spreads over two pools", "lowest-price", true, 2, running(pools(), 0, 1, 0), "c"},
		{"spot lowest-price, two pools, even", "lowest-price", true, 2, running(pools(), 0, 1, 1), "b"},
		{"spot lowest-price ignores capacity", "lowest-price", true, 1, pools(100, 0, 100), "b"},
		{"price-capacity-optimized: cheapest deep pool", "price-capacity-optimized", true, 0, pools(100, 10, 80), "c"},
		{"price-capacity-optimized: all unlimited", "price-capacity-optimized", true, 0, pools(), "b"},
		{"price-capacity-optimized: nothing left", "price-capacity-optimized", true, 0, pools(0, 0, 0), "b"},
		{"capacity-optimized", "capacity-optimized", true, 0, pools(100, 10, 80), "a"},
		{"capacity-optimized-prioritized ties by priority", "capacity-optimized-prioritized", true, 0, pools(50, 50, 50), "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := choosePool(tt.strategy, tt.spot, tt.pools, tt.cands)
			if !ok || got.InstanceType != tt.want {
				t.Fatalf("choosePool = %q (%v), want %q", got.InstanceType, ok, tt.want)
			}
		})
	}
	if _, ok := choosePool("lowest-price", true, 2, nil); ok {
		t.Fatal("choosePool without candidates: ok")
	}
}

func TestChooseVictims(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	v := func(id, zone string, mods ...func(*victim)) victim {
		x := victim{ID: id, Zone: zone, Current: true, LaunchTime: t0}
		for _, m := range mods {
			m(&x)
		}
		return x
	}
	old := func(x *victim) { x.Current = false }
	spot := func(x *victim) { x.Spot = true }
	protected := func(x *victim) { x.Protected = true }
	later := func(x *victim) { x.LaunchTime = t0.Add(time.Hour) }
	zones := []string{"a", "b", "c"}
	tests := []struct {
		name          string
		insts         []victim
		n, exOD, exSp int
		want          []string
	}{
		{"largest zone first, ties to the last zone", []victim{v("a1", "a"), v("a2", "a"), v("a3", "a"), v("b1", "b"), v("b2", "b"),
			v("c1", "c"), v("c2", "c")}, 3, 0, 0, []string{"a1", "c1", "b1"}},
		{"oldest template first", []victim{v("a1", "a"), v("a2", "a", old), v("b1", "b")}, 1, 0, 0, []string{"a2"}},
		{"oldest launch next", []victim{v("a1", "a", later), v("a2", "a")}, 1, 0, 0, []string{"a2"}},
		{"protected instances stay", []victim{v("a1", "a", protected), v("a2", "a", protected), v("b1", "b")}, 2, 0, 0, []string{"b1"}},
		{"excess on-demand first", []victim{v("a1", "a"), v("a2", "a", spot), v("b1", "b", spot)}, 1, 1, 0, []string{"a1"}},
		{"excess spot first", []victim{v("a1", "a"), v("a2", "a", spot)}, 1, 0, 1, []string{"a2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chooseVictims(tt.insts, tt.n, scaleInRule{Zones: zones, ExcessOnDemand: tt.exOD, ExcessSpot: tt.exSp}); !slices.Equal(got, tt.want) {
				t.Fatalf("chooseVictims = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestChooseVictimsKeepsBalance checks the clever policy against the plain
// rule it must follow: every victim comes from a zone that has the most
// instances at that moment.
func TestChooseVictimsKeepsBalance(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	zones := []string{"a", "b", "c"}
	for range 500 {
		var insts []victim
		for i := range r.IntN(20) {
			insts = append(insts, victim{ID: fmt.Sprintf("i%02d", i), Zone: zones[r.IntN(3)], Spot: r.IntN(2) == 0,
				Current: r.IntN(2) == 0, LaunchTime: testStart.Add(time.Duration(r.IntN(100)) * time.Minute)})
		}
		n := r.IntN(len(insts) + 1)
		got := chooseVictims(insts, n, scaleInRule{Zones: zones, ExcessOnDemand: r.IntN(3), ExcessSpot: r.IntN(3), Policies: []string{policyNewestInstance}})
		if len(got) != n {
			t.Fatalf("chose %d of %d, want %d", len(got), len(insts), n)
		}
		counts := map[string]int{}
		zoneOf := map[string]string{}
		for _, x := range insts {
			counts[x.Zone]++
			zoneOf[x.ID] = x.Zone
		}
		for _, id := range got {
			most := slices.Max([]int{counts["a"], counts["b"], counts["c"]})
			if counts[zoneOf[id]] != most {
				t.Fatalf("victim %s from zone %s with %d instances; the largest zone has %d (%v)", id, zoneOf[id], counts[zoneOf[id]], most, insts)
			}
			counts[zoneOf[id]]--
		}
	}
}

func TestSpotPrice(t *testing.T) {
	for _, it := range catalog.All() {
		for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
			p := spotPrice(it.SpotPrice, it.Name, z)
			if p != spotPrice(it.SpotPrice, it.Name, z) || p < it.SpotPrice*0.949 || p > it.SpotPrice*1.051 {
				t.Errorf("spot price of %s in %s = %v (regional %v)", it.Name, z, p, it.SpotPrice)
			}
		}
	}
}

// mixedGroup creates a group whose template names no instance type.
func (e *env) mixedGroup(name string, types []string, d astypes.InstancesDistribution, desired int32) {
	e.t.Helper()
	var ovs []astypes.LaunchTemplateOverrides
	for _, it := range types {
		ovs = append(ovs, astypes.LaunchTemplateOverrides{InstanceType: aws.String(it)})
	}
	must[*autoscaling.CreateAutoScalingGroupOutput](e.t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(20), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a", "us-east-1b", "us-east-1c"},
		MixedInstancesPolicy: &astypes.MixedInstancesPolicy{
			LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{
				LaunchTemplateName: aws.String("mixed"), Version: aws.String("$Default")}, Overrides: ovs},
			InstancesDistribution: &d}}))
}

// pools lists the group's instances as "zone/type/lifecycle", sorted.
func (e *env) pools(name string) []string {
	e.t.Helper()
	out := must[*ec2.DescribeInstancesOutput](e.t)(e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:aws:autoscaling:groupName"), Values: []string{name}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}}}))
	var ps []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			lc := "on-demand"
			if i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
				lc = "spot"
			}
			ps = append(ps, aws.ToString(i.Placement.AvailabilityZone)+"/"+string(i.InstanceType)+"/"+lc)
		}
	}
	slices.Sort(ps)
	return ps
}

// spotRanking returns, per zone, the types ordered by spot price as
// DescribeSpotPriceHistory reports them.
func (e *env) spotRanking(types []string) map[string][]string {
	e.t.Helper()
	out := must[*ec2.DescribeSpotPriceHistoryOutput](e.t)(e.ec2.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: toInstanceTypes(types), ProductDescriptions: []string{"Linux/UNIX"}}))
	byZone := map[string][]ec2types.SpotPrice{}
	for _, p := range out.SpotPriceHistory {
		z := aws.ToString(p.AvailabilityZone)
		byZone[z] = append(byZone[z], p)
	}
	rank := map[string][]string{}
	for z, ps := range byZone {
		slices.SortFunc(ps, func(a, b ec2types.SpotPrice) int {
			return cmp.Or(cmp.Compare(aws.ToString(a.SpotPrice), aws.ToString(b.SpotPrice)), cmp.Compare(a.InstanceType, b.InstanceType))
		})
		for _, p := range ps {
			rank[z] = append(rank[z], string(p.InstanceType))
		}
	}
	return rank
}

func toInstanceTypes(ts []string) []ec2types.InstanceType {
	var out []ec2types.InstanceType
	for _, t := range ts {
		out = append(out, ec2types.InstanceType(t))
	}
	return out
}

func count(ps []string, substr string) int {
	n := 0
	for _, p := range ps {
		if strings.Contains(p, substr) {
			n++
		}
	}
	return n
}

func TestMixedOnDemandBaseAndPercentage(t *testing.T) {
	e := newEnv(t)
	e.createTemplate("mixed", "", ImageLocalNode)
	e.mixedGroup("g", []string{"m5.large", "m6i.large"}, astypes.InstancesDistribution{OnDemandBaseCapacity: aws.Int32(2),
		OnDemandPercentageAboveBaseCapacity: aws.Int32(25)}, 10)
	e.waitSettled("g", 10)
	ps := e.pools("g")
	if od, sp := count(ps, "/on-demand"), count(ps, "/spot"); od != 4 || sp != 6 {
		t.Fatalf("10 instances: %d on-demand, %d spot; want 4 and 6 (%v)", od, sp, ps)
	}
	if n := count(ps, "m5.large/on-demand"); n != 4 {
		t.Fatalf("prioritized on-demand should all be m5.large: %v", ps)
	}
	// Scaling in to the base keeps the on-demand base.
	e.setDesired("g", 2)
	e.waitSettled("g", 2)
	if ps := e.pools("g"); count(ps, "/on-demand") != 2 {
		t.Fatalf("after scale-in to 2: %v", ps)
	}
	g := e.group("g")
	if d := g.MixedInstancesPolicy.InstancesDistribution; aws.ToInt32(d.OnDemandBaseCapacity) != 2 ||
		aws.ToString(d.SpotAllocationStrategy) != "lowest-price" || aws.ToString(d.OnDemandAllocationStrategy) != "prioritized" ||
		len(g.MixedInstancesPolicy.LaunchTemplate.Overrides) != 2 {
		t.Fatalf("described policy %+v", g.MixedInstancesPolicy)
	}
}

func TestMixedOnDemandLowestPrice(t *testing.T) {
	e := newEnv(t)
	e.createTemplate("mixed", "", ImageLocalNode)
	types := []string{"m5.large", "c5.large", "m7i.large"}
	e.mixedGroup("g", types, astypes.InstancesDistribution{OnDemandAllocationStrategy: aws.String("lowest-price")}, 3)
	e.waitSettled("g", 3)
	cheapest := slices.MinFunc(types, func(a, b string) int {
		x, _ := catalog.Price(a, catalog.CapacityTypeOnDemand)
		y, _ := catalog.Price(b, catalog.CapacityTypeOnDemand)
		return cmp.Compare(x, y)
	})
	if ps := e.pools("g"); count(ps, cheapest+"/on-demand") != 3 {
		t.Fatalf("on-demand lowest-price: %v, want all %s", ps, cheapest)
	}
}

func TestMixedSpotLowestPrice(t *testing.T) {
	e := newEnv(t)
	e.createTemplate("mixed", "", ImageLocalNode)
	types := []string{"m5.large", "m6i.large", "m7i.large", "c5.large"}
	rank := e.spotRanking(types)
	allSpot := aws.Int32(0)
	e.mixedGroup("one-pool", types, astypes.InstancesDistribution{OnDemandPercentageAboveBaseCapacity: allSpot,
		SpotAllocationStrategy: aws.String("lowest-price"), SpotInstancePools: aws.Int32(1)}, 6)
	e.mixedGroup("two-pools", types, astypes.InstancesDistribution{OnDemandPercentageAboveBaseCapacity: allSpot,
		SpotAllocationStrategy: aws.String("lowest-price"), SpotInstancePools: aws.Int32(2)}, 6)
	e.waitSettled("one-pool", 6)
	e.waitSettled("two-pools", 6)
	var want1, want2 []string
	for z, r := range rank {
		want1 = append(want1, z+"/"+r[0]+"/spot", z+"/"+r[0]+"/spot")
		want2 = append(want2, z+"/"+r[0]+"/spot", z+"/"+r[1]+"/spot")
	}
	slices.Sort(want1)
	slices.Sort(want2)
	if got := e.pools("one-pool"); !slices.Equal(got, want1) {
		t.Errorf("SpotInstancePools 1: %v, want %v", got, want1)
	}
	if got := e.pools("two-pools"); !slices.Equal(got, want2) {
		t.Errorf("SpotInstancePools 2: %v, want %v", got, want2)
	}
}

func TestMixedSpotPriceCapacityOptimized(t *testing.T) {
	e := newEnv(t)
	e.createTemplate("mixed", "", ImageLocalNode)
	types := []string{"m5.large", "m6i.large", "m7i.large", "c5.large"}
	rank := e.spotRanking(types)
	// The cheapest pool of each zone is nearly empty; the others are deep.
	var f Faults
	for z, r := range rank {
		f.SpotCapacity = append(f.SpotCapacity, SpotCapacity{InstanceType: r[0], AvailabilityZone: z, Capacity: 1})
	}
	f.SpotCapacity = append(f.SpotCapacity, SpotCapacity{InstanceType: "*", AvailabilityZone: "*", Capacity: 20})
	if err := e.cloud.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	allSpot := aws.Int32(0)
	e.mixedGroup("pco", types, astypes.InstancesDistribution{OnDemandPercentageAboveBaseCapacity: allSpot,
		SpotAllocationStrategy: aws.String("price-capacity-optimized")}, 6)
	e.waitSettled("pco", 6)
	var want []string
	for z, r := range rank {
		want = append(want, z+"/"+r[1]+"/spot", z+"/"+r[1]+"/spot")
	}
	slices.Sort(want)
	if got := e.pools("pco"); !slices.Equal(got, want) {
		t.Errorf("price-capacity-optimized: %v, want %v (the cheapest deep pool of each zone)", got, want)
	}
	for _, a := range e.activities("pco") {
		if a.StatusCode == astypes.ScalingActivityStatusCodeFailed {
			t.Errorf("price-capacity-optimized failed a launch: %s", aws.ToString(a.StatusMessage))
		}
	}

	// lowest-price goes for the cheapest pool regardless, and fails there
	// once it is full.
	e.mixedGroup("lp", types, astypes.InstancesDistribution{OnDemandPercentageAboveBaseCapacity: allSpot,
		SpotAllocationStrategy: aws.String("lowest-price"), SpotInstancePools: aws.Int32(1)}, 6)
	e.waitSettled("lp", 6)
	got := e.pools("lp")
	for z, r := range rank {
		if count(got, z+"/"+r[0]+"/spot") != 1 || count(got, z+"/"+r[1]+"/spot") != 1 {
			t.Errorf("lowest-price in %s: %v; want one %s (full after it) and one %s", z, got, r[0], r[1])
		}
	}
	ice := 0
	for _, a := range e.activities("lp") {
		if a.StatusCode == astypes.ScalingActivityStatusCodeFailed && strings.HasPrefix(aws.ToString(a.StatusMessage), codeInsufficientCapacity) {
			ice++
		}
	}
	if ice != 3 {
		t.Errorf("lowest-price: %d InsufficientInstanceCapacity activities, want 3 (one per full pool)", ice)
	}
}
