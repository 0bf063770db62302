package cli

import (
	"encoding/json"
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
		"kelp-demo-memory +1 r5.2xlarge", "default/big-0", "not kelp-demo-general: default/big-0: Insufficient memory",
		"PODS NO POOL HELPS", "default/huge-0", "kelp-demo-spot: Insufficient cpu",
		"SCALE-DOWN", "skipped: scaled up in this cycle", "$/h", "0.288")

	out, _, err = kelp(t, append(files, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var plan whatif.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("simulate -o json: %v\n%s", err, out)
	}
	if len(plan.ScaleUp) != 1 || plan.ScaleUp[0].Group != "kelp-demo-memory" || len(plan.NotHelped) != 1 || plan.After.Nodes != 4 {
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

func TestSimulateErrors(t *testing.T) {
	pools := whatifData + "pools.yaml"
	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--from-files", whatifData + "bad-kind.json", "--pools", pools}, []string{"bad-kind.json", "kind Secret"}},
		{[]string{"--from-files", whatifData + "bad-malformed.json", "--pools", pools}, []string{"bad-malformed.json", "malformed"}},
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
	testenv.ErrorContains(t, err, "pod default/nope not found")
	_, _, err = kelp(t, "explain", "pod", "nope", "--from-files", whatifData+"cluster", "--pools", whatifData+"pools.yaml")
	testenv.ErrorContains(t, err, "NAMESPACE/NAME")
}

func TestExplainCSRIsCSRExplain(t *testing.T) {
	cloud := []string{"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1"}
	_, _, err := kelp(t, append([]string{"explain", "csr", "no-such-csr"}, cloud...)...)
	testenv.ErrorContains(t, err, `csr "no-such-csr" not found`)
}
