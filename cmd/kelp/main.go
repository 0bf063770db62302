// Command kelp makes Kubernetes clusters elastic on AWS Auto Scaling Groups.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// Mozilla's CA roots compiled in, used where the host has none (kelp's
	// image is built from an empty base): AWS's endpoints are verified the
	// same whatever the machine that built or runs the binary.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/kelp-dev/kelp/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.RouteKlog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.NewRoot(version).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
