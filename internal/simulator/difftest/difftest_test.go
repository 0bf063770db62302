package difftest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/testenv"
)

const (
	defaultScenarios = 100
	// workers is how many scenarios run at once; each probes its nodes one
	// after the other.
	workers = 4
)

// TestSimulatorMatchesScheduler generates random scenarios and checks, for
// every node of each, that the simulator says the probe fits exactly when
// the real kube-scheduler places it there.
func TestSimulatorMatchesScheduler(t *testing.T) {
	env := testenv.Get(t)
	seed, count := difftestParams(t)
	t.Logf("seed %d, %d scenarios (reproduce with KELP_DIFFTEST_SEED=%d)", seed, count, seed)

	if err := ensureRuntimeClass(t.Context(), env.Client); err != nil {
		t.Fatal(err)
	}
	scenarios := make([]*scenario, count)
	for i := range scenarios {
		g := &generator{r: rand.New(rand.NewPCG(seed, uint64(i)))}
		scenarios[i] = g.scenario(fmt.Sprintf("r%x-%03d", seed%0xfff, i))
	}
	start := time.Now()
	outcomes, errs := runAll(t.Context(), &harness{client: env.Client, logf: t.Logf}, scenarios)

	var sum struct{ fit, noFit, unsupported, reprobed, mismatches int }
	for i, o := range outcomes {
		if errs[i] != nil {
			t.Errorf("scenario %s: %v", scenarios[i].ID, errs[i])
			continue
		}
		sum.fit += o.Fit
		sum.noFit += o.NoFit
		sum.reprobed += o.Reprobed
		sum.mismatches += len(o.Mismatches)
		if o.Unsupported != "" {
			sum.unsupported++
		}
		if len(o.Mismatches) > 0 {
			t.Errorf("scenario %s (seed %d, index %d): simulator and scheduler disagree:\n%s\n---- scenario ----\n%s",
				o.Scenario.ID, seed, i, mismatchLines(o.Mismatches), o.Scenario.YAML())
		}
	}
	t.Logf("%d scenarios in %v: %d node verdicts compared (%d fit, %d do not), %d mismatches, %d probes unsupported by the simulator, %d verdicts agreed only on a second probe",
		count, time.Since(start).Round(time.Millisecond), sum.fit+sum.noFit, sum.fit, sum.noFit, sum.mismatches, sum.unsupported, sum.reprobed)
	if sum.fit == 0 || sum.noFit == 0 {
		t.Errorf("the scenarios exercised only one verdict (%d fit, %d do not): the comparison proves nothing", sum.fit, sum.noFit)
	}
}

// defaultSeed keeps `make test` reproducible; set KELP_DIFFTEST_SEED
// (e.g. to $RANDOM) to explore other scenarios.
const defaultSeed = 20261126

// difftestParams reads KELP_DIFFTEST_SEED (default defaultSeed) and
// KELP_DIFFTEST_SCENARIOS (default 100).
func difftestParams(t *testing.T) (seed uint64, count int) {
	t.Helper()
	seed, count = defaultSeed, defaultScenarios
	if v := os.Getenv("KELP_DIFFTEST_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("KELP_DIFFTEST_SEED=%q: want an unsigned integer: %v", v, err)
		}
		seed = s
	}
	if v := os.Getenv("KELP_DIFFTEST_SCENARIOS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KELP_DIFFTEST_SCENARIOS=%q: want a positive integer", v)
		}
		count = n
	}
	return seed, count
}

// runAll runs the scenarios, workers at a time; outcomes and errors are
// indexed like scenarios.
func runAll(ctx context.Context, h *harness, scenarios []*scenario) ([]*outcome, []error) {
	outcomes := make([]*outcome, len(scenarios))
	errs := make([]error, len(scenarios))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				outcomes[i], errs[i] = h.run(ctx, scenarios[i])
			}
		})
	}
	for i := range scenarios {
		next <- i
	}
	close(next)
	wg.Wait()
	return outcomes, errs
}

func mismatchLines(ms []mismatch) string {
	var out string
	for _, m := range ms {
		out += "  " + m.String() + "\n"
	}
	return out
}
