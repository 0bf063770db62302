package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/kelp-dev/kelp/internal/cli"
)

// runAsKelpEnv makes the test binary run as the kelp command (os.Args[1:]
// are its arguments), so a test can start `kelp controller` as a separate
// process and SIGKILL it without building a binary.
const runAsKelpEnv = "KELP_E2E_RUN_AS_KELP"

func TestMain(m *testing.M) {
	if os.Getenv(runPausingControllerEnv) == "1" {
		os.Exit(runPausingController(os.Args[1:]))
	}
	if os.Getenv(runAsKelpEnv) == "1" {
		cli.RouteKlog()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := cli.NewRoot("e2e")
		root.SetArgs(os.Args[1:])
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
