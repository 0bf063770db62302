package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler/whatif"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// whatifData is the what-if package's fixture directory.
const whatifData = "../autoscaler/whatif/testdata/"

func TestSimulateFromFiles(t *testing.T) {
	files := []string{"simulate", "--from-files", whatifData + "cluster", "--from-files", whatifData + "pending-big.json",
		"--from-files", whatifData + "pending-huge.json", "--pools", whatifData + "pools.yaml", "--cluster-name", "demo"}
	out, _, err := kelp(t, files...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate", out, "nothing was changed", "expander least-waste", "unneeded since",
		"memory +1 r5.2xlarge", "Auto Scaling group: kelp-demo-memory", "default/big-0", "not general: default/big-0: Insufficient memory",
		"PODS NO POOL HELPS", "default/huge-0", "spot: Insufficient cpu",
		"SCALE-DOWN", "skipped: scaled up in this cycle", "$/h", "0.288", "no pool is backed off (the groups come from "+whatifData+"pools.yaml")
	// Pools are named alike whatever the cluster's name (their groups'
	// names differ): only the group line tells them apart.
	other, _, err := kelp(t, append(slices.Clone(files[:len(files)-1]), "other")...)
	if err != nil {
		t.Fatal(err)
	}
	if strip(other, "kelp-other-memory") != strip(out, "kelp-demo-memory") {
		t.Errorf("simulate names pools differently with another cluster name:\n%s\n---\n%s", out, other)
	}

	out, _, err = kelp(t, append(files, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var plan whatif.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("simulate -o json: %v\n%s", err, out)
	}
	if len(plan.ScaleUp) != 1 || plan.ScaleUp[0].Pool != "memory" || plan.ScaleUp[0].Group != "kelp-demo-memory" || len(plan.NotHelped) != 1 ||
		plan.NotHelped[0].Pools["spot"] == "" || plan.After.Nodes != 4 || plan.After.Pools["memory"] != 1 {
		t.Errorf("simulate -o json = %+v", plan)
	}

	// The scale-down flags apply: without pending pods general-2 goes,
	// and a threshold of 0.01 keeps it.
	down := []string{"simulate", "--from-files", whatifData + "cluster", "--pools", whatifData + "pools.yaml"}
	out, _, err = kelp(t, down...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate scale-down", out, "remove general-2", "evicting default/web-1", "keep general-3: NotEnoughPdb: default/db")
	out, _, err = kelp(t, append(down, "--scale-down-utilization-threshold", "0.01")...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate with a low threshold", out, "no node would go", "keep general-2: NotUnderutilized")

	// The expander flag changes the choice.
	small := []string{"simulate", "--from-files", whatifData + "pending-small.json", "--pools", whatifData + "pools.yaml"}
	out, _, err = kelp(t, append(small, "--expander", "price")...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate --expander price", out, "spot +1 m5.large", "chosen by price")
	out, _, err = kelp(t, small...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate --expander least-waste", out, "general +1 m5.large")
}

// strip removes the group name and the times from simulate's text.
func strip(out, group string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "unneeded since") {
			keep = append(keep, strings.ReplaceAll(l, group, "GROUP"))
		}
	}
	return strings.Join(keep, "\n")
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	notObject := filepath.Join(dir, "bad.json")
	empty := filepath.Join(dir, "empty.json")
	for name, content := range map[string]string{notObject: `{"kind": "List", "items": ["x"]}`, empty: "\n"} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pools := whatifData + "pools.yaml"
	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--from-files", whatifData + "bad-kind.json", "--pools", pools}, []string{"bad-kind.json", "kind Secret"}},
		{[]string{"--from-files", whatifData + "bad-malformed.json", "--pools", pools}, []string{"bad-malformed.json", "malformed"}},
		{[]string{"--from-files", notObject, "--pools", pools}, []string{notObject, "not a Kubernetes object or List"}},
		{[]string{"--from-files", empty, "--pools", pools}, []string{empty, "holds no objects"}},
		{[]string{"--from-files", whatifData + "cluster"}, []string{"--pools is required"}},
		{[]string{"--from-files", whatifData + "cluster", "--live", "--pools", pools}, []string{"choose one"}},
		{[]string{"--from-files", whatifData + "cluster", "--pools", pools, "--expander", "cheapest"}, []string{"cheapest"}},
		{[]string{"--from-files", whatifData + "cluster", "--pools", pools, "-o", "xml"}, []string{"--output"}},
	} {
		_, _, err := kelp(t, append([]string{"simulate"}, tt.args...)...)
		testenv.ErrorContains(t, err, tt.wants...)
	}
}

func TestExplainPodFromFiles(t *testing.T) {
	args := []string{"explain", "pod", "default/huge-0", "--from-files", whatifData + "cluster", "--from-files", whatifData + "pending-huge.json",
		"--pools", whatifData + "pools.yaml"}
	out, _, err := kelp(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain pod", out, "Pod default/huge-0: pending: the scheduler found no node", "Scheduler: 0/3 nodes",
		"Now kelp would do: nothing: no pool helps it", "POOL", "memory", "Insufficient cpu")
	out, _, err = kelp(t, append(args, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var c whatif.PodCase
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("explain pod -o json: %v\n%s", err, out)
	}
	if c.Pod != "default/huge-0" || len(c.Pools) != 3 || c.Pools[0].Helps {
		t.Errorf("explain pod -o json = %+v", c)
	}
	_, _, err = kelp(t, "explain", "pod", "default/nope", "--from-files", whatifData+"cluster", "--pools", whatifData+"pools.yaml")
	testenv.ErrorContains(t, err, "pod default/nope not found in the files")
	for _, ref := range []string{"nope", "a/b/c", "/x", "x/"} {
		_, _, err = kelp(t, "explain", "pod", ref, "--from-files", whatifData+"cluster", "--pools", whatifData+"pools.yaml")
		testenv.ErrorContains(t, err, "NAMESPACE/NAME")
	}

	// A running pod: its node, not what pools would do were it pending.
	out, _, err = kelp(t, "explain", "pod", "default/web-1", "--from-files", whatifData+"cluster", "--pools", whatifData+"pools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain pod of a running pod", out, "it runs on node general-2", "kelp has nothing to do for it",
		"Its node: a scale-down candidate")
	if strings.Contains(out, "fits node") || strings.Contains(out, "POOL") {
		t.Errorf("explain pod of a running pod names what pools would do:\n%s", out)
	}
}

func TestExplainUnknownKind(t *testing.T) {
	_, _, err := kelp(t, "explain", "node", "x")
	testenv.ErrorContains(t, err, "kelp explain node: unknown kind (want pod or csr)")
}

// TestWhatIfHidesControllerFlags checks that simulate and explain pod
// list the flags that shape a plan and not the controller's own.
func TestWhatIfHidesControllerFlags(t *testing.T) {
	for _, cmd := range [][]string{{"simulate"}, {"explain", "pod"}} {
		out, _, err := kelp(t, append(cmd, "--help")...)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Contains(t, strings.Join(cmd, " ")+" --help", out, "--expander", "--scale-down-utilization-threshold", "--scale-down-unneeded-time", "--max-nodes-total")
		for _, name := range controllerOnlyFlags {
			if strings.Contains(out, "--"+name+" ") {
				t.Errorf("%s --help lists --%s", cmd, name)
			}
		}
	}
	// Still accepted, so that a controller's flags can be pasted.
	if _, _, err := kelp(t, "simulate", "--from-files", whatifData+"cluster", "--pools", whatifData+"pools.yaml", "--dry-run", "--batch-idle-duration", "1s"); err != nil {
		t.Error(err)
	}
}

func TestExplainCSRIsCSRExplain(t *testing.T) {
	cloud := []string{"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1"}
	_, _, err := kelp(t, append([]string{"explain", "csr", "no-such-csr"}, cloud...)...)
	testenv.ErrorContains(t, err, `csr "no-such-csr" not found`)
}
