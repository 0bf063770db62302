package aws

import (
	"slices"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// TestInstancesByPrivateDNSNames: many names are looked up in one
// DescribeInstances and one DescribeAutoScalingInstances, every answer
// maps back to its own name, an unknown name is absent, and the answers
// agree with InstanceByPrivateDNSName's.
func TestInstancesByPrivateDNSNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	group := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 5, DesiredCapacity: int32p(5)})
	e.waitInService(group, 5)
	p := e.provider(Config{})
	if err := p.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	groups, err := p.NodeGroups(bg)
	if err != nil || len(groups) != 1 {
		t.Fatalf("NodeGroups = %v, %v", groups, err)
	}
	byName := map[string]string{} // name -> id
	var names []string
	for _, i := range groups[0].Instances {
		byName[i.PrivateDNSName], names = i.ID, append(names, i.PrivateDNSName)
	}
	const unknown = "ip-10-99-99-99.ec2.internal"
	asked := append(slices.Clone(names), unknown, names[0]) // an unknown name and a repeat
	described, asDescribed := e.requests("DescribeInstances"), e.requests("DescribeAutoScalingInstances")
	got, err := p.InstancesByPrivateDNSNames(bg, asked)
	if err != nil {
		t.Fatal(err)
	}
	if d, a := e.requests("DescribeInstances")-described, e.requests("DescribeAutoScalingInstances")-asDescribed; d != 1 || a != 1 {
		t.Errorf("%d DescribeInstances and %d DescribeAutoScalingInstances for %d names, want one each", d, a, len(asked))
	}
	if _, ok := got[unknown]; ok || len(got) != len(names) {
		t.Errorf("answers for %d names (unknown one: %v), want %d", len(got), got[unknown], len(names))
	}
	for _, name := range names {
		insts := got[name]
		if len(insts) != 1 || insts[0].ID != byName[name] || insts[0].PrivateDNSName != name ||
			insts[0].State != cloud.InstanceStateRunning || insts[0].GroupName != group || insts[0].Pool != "general" {
			t.Errorf("answer for %s: %+v, want instance %s, in service in %s", name, insts, byName[name], group)
		}
		p.InvalidateAll()
		one, err := p.InstanceByPrivateDNSName(bg, name)
		if err != nil || len(one) != 1 || one[0].ID != insts[0].ID || one[0].State != insts[0].State {
			t.Errorf("InstanceByPrivateDNSName(%s) = %+v, %v; the batch said %+v", name, one, err, insts)
		}
	}

	// Answers are cached: asking again costs nothing.
	p.InvalidateAll()
	if _, err := p.InstancesByPrivateDNSNames(bg, names); err != nil {
		t.Fatal(err)
	}
	described = e.requests("DescribeInstances")
	if _, err := p.InstancesByPrivateDNSNames(bg, names); err != nil {
		t.Fatal(err)
	}
	if d := e.requests("DescribeInstances") - described; d != 0 {
		t.Errorf("cached names made %d DescribeInstances calls", d)
	}
}
