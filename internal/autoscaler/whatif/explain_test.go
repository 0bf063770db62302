package whatif

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// explain makes the case of pod ref over the testdata files.
func explain(t *testing.T, ref string, files ...string) PodCase {
	t.Helper()
	o := loop.Options{ScaleDownEnabled: true}
	sim, objs := simulated(t, o, files...)
	pod, err := Find(objs, ref, fromFiles)
	if err != nil {
		t.Fatal(err)
	}
	return ExplainPod(context.Background(), sim, o, objs, pod)
}

func TestExplainPod(t *testing.T) {
	tests := []struct {
		name, pod string
		files     []string
		state     string
		now       string
		node      string            // a part of the node's case; "" for none
		pools     map[string]string // pool → a part of its reason; "+" prefix: helps
	}{{
		name: "fits one pool only", pod: "default/big-0", files: []string{"cluster", "pending-big.json"},
		state: "the scheduler found no node", now: "scale up memory by 1 r5.2xlarge",
		pools: map[string]string{"memory": "+", "general": "Insufficient memory", "spot": "Insufficient memory"},
	}, {
		name: "too big for every pool", pod: "default/huge-0", files: []string{"cluster", "pending-huge.json"},
		state: "the scheduler found no node", now: "no pool helps it",
		pools: map[string]string{"memory": "Insufficient cpu", "general": "Insufficient cpu", "spot": "Insufficient cpu"},
	}, {
		// A running pod gets its node's case, not what each pool would do
		// for it were it pending (it would fit another node).
		name: "running pod", pod: "default/web-1", files: []string{"cluster"},
		state: "not pending: it runs on node general-2 (Running)", now: "the pod runs on node general-2; kelp has nothing to do for it",
		node: "a scale-down candidate: it would go (pool general",
	}, {
		name: "running pod on a kept node", pod: "default/db-0", files: []string{"cluster"},
		state: "it runs on node general-3", now: "kelp has nothing to do for it",
		node: "not a scale-down candidate: it stays (NotEnoughPdb",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := explain(t, tt.pod, tt.files...)
			if !strings.Contains(c.State, tt.state) || !strings.Contains(c.Now, tt.now) {
				t.Errorf("state %q, now %q; want %q, %q", c.State, c.Now, tt.state, tt.now)
			}
			if !strings.Contains(c.Node, tt.node) || (tt.node == "") != (c.Node == "") || (tt.node != "") != (c.Pools == nil) {
				t.Errorf("node %q, pools %+v; want node %q and pools only without", c.Node, c.Pools, tt.node)
			}
			for _, p := range c.Pools {
				want, ok := tt.pools[p.Pool]
				switch {
				case !ok:
				case want == "+" && !p.Helps:
					t.Errorf("pool %s does not help (%s), want it to", p.Group, p.Reason)
				case want != "+" && (p.Helps || !strings.Contains(p.Reason, want)):
					t.Errorf("pool %s: helps %v, %q; want %q", p.Group, p.Helps, p.Reason, want)
				}
			}
			var b bytes.Buffer
			if err := c.WriteText(&b); err != nil || !strings.Contains(b.String(), tt.pod) || strings.Contains(b.String(), "fits node") {
				t.Errorf("text (%v):\n%s", err, b.String())
			}
			if tt.node != "" && (!strings.Contains(b.String(), "Its node: "+tt.node) || strings.Contains(b.String(), "POOL")) {
				t.Errorf("text of a running pod:\n%s", b.String())
			}
		})
	}
}

func TestRoom(t *testing.T) {
	c := explain(t, "default/big-0", "cluster", "pending-big.json")
	for _, p := range c.Pools {
		if p.Group != "general" {
			continue
		}
		if p.Room == nil || p.Room.Requests["memory"] != "30.0Gi" || p.Room.Free["memory"] != "6.9Gi" || p.Room.Free["cpu"] != "1830m" {
			t.Fatalf("room on general = %+v, want 30.0Gi requested, 6.9Gi and 1830m free (the DaemonSet pod counted)", p.Room)
		}
		if s := p.Room.String(); !strings.Contains(s, "needs cpu 500m, memory 30.0Gi; a new m5.large has cpu 1830m, memory 6.9Gi, pods 28 free") {
			t.Errorf("room = %q", s)
		}
		return
	}
	t.Fatal("no general pool in the case")
}

// TestRoomOfEachType checks that a pool of several instance types shows
// the free room of each, the primary first.
func TestRoomOfEachType(t *testing.T) {
	_, objs := simulated(t, loop.Options{}, "cluster", "pending-big.json")
	pod, err := Find(objs, "default/big-0", fromFiles)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		types []string
		want  string
	}{
		{[]string{"m5.large"}, "a new m5.large has cpu 1830m, memory 7.2Gi, pods 28 free"},
		{[]string{"m5.large", "m5.xlarge"}, "a new m5.large has cpu 1830m, memory 7.2Gi, pods 28 free (m5.xlarge: cpu 3820m, memory 14.9Gi, pods 57)"},
	}
	for _, tt := range tests {
		tmpl, err := catalogTemplate(pool.Spec{Name: "mixed", InstanceTypes: tt.types}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		r := roomOf(cloud.NodeGroup{ID: "mixed", Pool: "mixed", Template: tmpl}, pod, objs.DaemonSets)
		if r == nil || len(r.Others) != len(tt.types)-1 || !strings.HasSuffix(r.String(), tt.want) {
			t.Errorf("room of %v = %+v\n%v\nwant it to end %q", tt.types, r, r, tt.want)
		}
	}
}
