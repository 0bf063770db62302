package localcloud_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/kelp-dev/kelp/internal/localcloud"
)

// Example shows the caller's loop: open the state, serve it on a port that
// is kept across restarts, start the reconcile loop, and hand the endpoint
// and credentials to SDK clients.
func Example() {
	dir, err := os.MkdirTemp("", "localcloud")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	cloud, err := localcloud.Open(localcloud.Options{
		Dir:     dir,                     // state.db lives here
		Runtime: localcloud.NopRuntime{}, // kelp up passes the node-agent runtime
		Faults:  localcloud.Faults{},     // or LoadFaults(path) / Faults.AddFlags
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cloud.Close()

	srv, err := localcloud.Listen(0, cloud, nil) // pass the saved port on restarts
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck

	if err := cloud.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	// Clients use AWS_ENDPOINT_URL=srv.URL(), AWS_REGION=us-east-1 and
	// the static credentials.
	fmt.Println(localcloud.AccessKeyID != "", srv.Port() > 0, cloud.Region())
	// Output: true true us-east-1
}
