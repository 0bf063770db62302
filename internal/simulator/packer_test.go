package simulator

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPacker packs classes onto new m5.large nodes (1930m cpu allocatable)
// of a template in us-east-1a and checks counts, segments and stops.
func TestPacker(t *testing.T) {
	full := func(s *Snapshot, name, zone string) { // a node with no cpu left
		mustAddNode(t, s, catalogNode(t, name, "m5.large", zone))
		mustAddPod(t, s, name, mkPod("fill-"+name, requests("cpu", "1930m")))
	}
	tests := []struct {
		name      string
		snapshot  func(s *Snapshot)
		classes   []PackClass
		maxNew    int
		unsupport bool
		newNodes  int
		want      []ClassPack
	}{{
		name:     "identical pods: 3 per node, the rest on one more",
		classes:  []PackClass{{Pod: compiled(mkPod("web", withLabels("app", "web"), requests("cpu", "500m"))), Count: 40}},
		maxNew:   100,
		newNodes: 14,
		want:     []ClassPack{{Placed: 40, Segments: []PackSegment{{NewNode: 0, Nodes: 13, Count: 3}, {NewNode: 13, Nodes: 1, Count: 1}}}},
	}, {
		name: "hostname anti-affinity: one per node; a smaller class fills the room left",
		classes: []PackClass{
			{Pod: compiled(mkPod("db", withLabels("app", "db"), requests("cpu", "1"), antiAffinity(LabelHostname, "app", "db"))), Count: 4},
			{Pod: compiled(mkPod("web", withLabels("app", "web"), requests("cpu", "400m"))), Count: 10},
		},
		maxNew:   100,
		newNodes: 5,
		want: []ClassPack{
			{Placed: 4, Segments: []PackSegment{{NewNode: 0, Nodes: 4, Count: 1}}},
			{Placed: 10, Segments: []PackSegment{{NewNode: 0, Nodes: 5, Count: 2}}},
		},
	}, {
		name:     "room for two nodes",
		classes:  []PackClass{{Pod: compiled(mkPod("web", requests("cpu", "500m"))), Count: 10}},
		maxNew:   2,
		newNodes: 2,
		want:     []ClassPack{{Placed: 6, OutOfRoom: true, Segments: []PackSegment{{NewNode: 0, Nodes: 2, Count: 3}}}},
	}, {
		name:     "too big for a new node",
		classes:  []PackClass{{Pod: compiled(mkPod("big", requests("cpu", "3"))), Count: 2}},
		maxNew:   10,
		newNodes: 0,
		want:     []ClassPack{{Stop: InsufficientResource("cpu")}},
	}, {
		name: "zone spread: one replica per round of the zones, the other zone full",
		snapshot: func(s *Snapshot) {
			full(s, "a1", "us-east-1a")
			full(s, "b1", "us-east-1b")
		},
		classes: []PackClass{{Pod: compiled(mkPod("s", withLabels("app", "s"), requests("cpu", "100m"),
			spread(LabelZone, 1, nil, "app", "s"))), Count: 5}},
		maxNew:   10,
		newNodes: 1,
		want:     []ClassPack{{Placed: 1, Stop: ReasonSpread, Segments: []PackSegment{{NewNode: 0, Nodes: 1, Count: 1}}}},
	}, {
		name: "zone spread: an existing node in the other zone takes its turn",
		snapshot: func(s *Snapshot) {
			full(s, "a1", "us-east-1a")
			mustAddNode(t, s, catalogNode(t, "b1", "m5.large", "us-east-1b"))
			mustAddPod(t, s, "b1", mkPod("s-0", withLabels("app", "s"), requests("cpu", "100m")))
			mustAddPod(t, s, "b1", mkPod("s-1", withLabels("app", "s"), requests("cpu", "100m")))
		},
		classes: []PackClass{{Pod: compiled(mkPod("s", withLabels("app", "s"), requests("cpu", "100m"),
			spread(LabelZone, 1, nil, "app", "s"))), Count: 4}},
		maxNew:   10,
		newNodes: 1,
		want: []ClassPack{{Placed: 4, Segments: []PackSegment{
			{NewNode: 0, Nodes: 1, Count: 2}, {Node: "b1", Nodes: 1, Count: 1}, {NewNode: 0, Nodes: 1, Count: 1}}}},
	}, {
		name: "anti-affinity selecting another class: outside the bulk model",
		classes: []PackClass{
			{Pod: compiled(mkPod("a", withLabels("app", "a"), requests("cpu", "1"), antiAffinity(LabelHostname, "app", "b"))), Count: 1},
			{Pod: compiled(mkPod("b", withLabels("app", "b"), requests("cpu", "1"))), Count: 1},
		},
		unsupport: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSnapshot()
			if tt.snapshot != nil {
				tt.snapshot(s)
			}
			pk := NewPacker(s, tt.classes)
			if ok, why := pk.Supported(); ok == tt.unsupport {
				t.Fatalf("Supported() = %v (%s), want %v", ok, why, !tt.unsupport)
			}
			tmpl := catalogNode(t, "tmpl", "m5.large", "us-east-1a")
			res, ok, err := pk.Pack(tmpl, nil, tt.maxNew)
			if err != nil || ok == tt.unsupport {
				t.Fatalf("Pack: ok %v, err %v", ok, err)
			}
			if tt.unsupport {
				return
			}
			if res.NewNodes != tt.newNodes {
				t.Errorf("NewNodes = %d, want %d", res.NewNodes, tt.newNodes)
			}
			if !reflect.DeepEqual(res.Classes, tt.want) {
				t.Errorf("Classes =\n%+v\nwant\n%+v", res.Classes, tt.want)
			}
			checkPackReplays(t, s, tmpl, tt.classes, res)
		})
	}
}

// checkPackReplays places the pack on a fork, each replica where the pack
// says, and checks with Fits that it fits there.
func checkPackReplays(t *testing.T, s *Snapshot, tmpl *corev1.Node, classes []PackClass, res PackResult) {
	t.Helper()
	f := s.Fork()
	names := make([]string, res.NewNodes)
	for i := range names {
		names[i] = fmt.Sprintf("new-%d", i)
		if err := f.AddTemplateNode(tmpl, names[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	for ci, c := range res.Classes {
		i := 0
		for _, seg := range c.Segments {
			for n := range seg.Nodes {
				node := seg.Node
				if node == "" {
					node = names[seg.NewNode+n]
				}
				for range seg.Count {
					q := classes[ci].Pod.Replica(mkPod(fmt.Sprintf("%s-packed-%d", classes[ci].Pod.Object().Name, i), withLabels(labelsOf(classes[ci].Pod)...)))
					i++
					if ok, why := Fits(f, q, node); !ok {
						t.Errorf("replica %s does not fit %s: %s", q.Key(), node, why)
					}
					if err := f.AddPod(node, q); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

func labelsOf(p *Pod) []string {
	var kv []string
	for k, v := range p.Object().Labels {
		kv = append(kv, k, v)
	}
	return kv
}
