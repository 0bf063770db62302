package loop

import (
	"flag"
	"os"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestMain starts the control plane the integration tests use, unless
// no test runs (-run '^$', as for the benchmarks, which need none).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		os.Exit(m.Run())
	}
	testenv.Main(m)
}
