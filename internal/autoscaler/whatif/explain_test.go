package whatif

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// explain makes the case of pod ref over the testdata files.
func explain(t *testing.T, ref string, files ...string) PodCase {
	t.Helper()
	o := loop.Options{ScaleDownEnabled: true}
	sim, objs := simulated(t, o, files...)
	pod, err := Find(objs, ref)
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
		pools     map[string]string // group → a part of its reason; "+" prefix: helps
	}{{
		name: "fits one pool only", pod: "default/big-0", files: []string{"cluster", "pending-big.json"},
		state: "the scheduler found no node", now: "scale up memory by 1 r5.2xlarge",
		pools: map[string]string{"memory": "+", "general": "Insufficient memory", "spot": "Insufficient memory"},
	}, {
		name: "too big for every pool", pod: "default/huge-0", files: []string{"cluster", "pending-huge.json"},
		state: "the scheduler found no node", now: "no pool helps it",
		pools: map[string]string{"memory": "Insufficient cpu", "general": "Insufficient cpu", "spot": "Insufficient cpu"},
	}, {
		name: "running pod", pod: "default/web-1", files: []string{"cluster"},
		state: "not pending: bound to node general-2", now: "it is not unschedulable",
		pools: map[string]string{"general": "not needed: the pod fits node general-"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := explain(t, tt.pod, tt.files...)
			if !strings.Contains(c.State, tt.state) || !strings.Contains(c.Now, tt.now) {
				t.Errorf("state %q, now %q; want %q, %q", c.State, c.Now, tt.state, tt.now)
			}
			for _, p := range c.Pools {
				want, ok := tt.pools[p.Group]
				switch {
				case !ok:
				case want == "+" && !p.Helps:
					t.Errorf("pool %s does not help (%s), want it to", p.Group, p.Reason)
				case want != "+" && (p.Helps || !strings.Contains(p.Reason, want)):
					t.Errorf("pool %s: helps %v, %q; want %q", p.Group, p.Helps, p.Reason, want)
				}
			}
			var b bytes.Buffer
			if err := c.WriteText(&b); err != nil || !strings.Contains(b.String(), tt.pod) {
				t.Errorf("text (%v):\n%s", err, b.String())
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
