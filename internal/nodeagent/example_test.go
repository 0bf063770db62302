package nodeagent_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/kelp-dev/kelp/internal/nodeagent"
)

// An instance launcher writes the identity document (cloud-init has
// already written the bootstrap kubeconfig and node.yaml from user-data),
// then runs the agent until it is told to stop. Someone else approves the
// agent's CSRs.
func Example() {
	root := "/var/lib/kelp-local/instances/i-0123456789abcdef0"
	err := nodeagent.WriteIdentity(root, nodeagent.InstanceIdentity{
		InstanceID:       "i-0123456789abcdef0",
		InstanceType:     "m5.large",
		AvailabilityZone: "us-east-1a",
		Region:           "us-east-1",
		PrivateIP:        "127.0.1.5",
		PrivateDNSName:   "ip-127-0-1-5.ec2.internal",
		Lifecycle:        nodeagent.LifecycleSpot,
		ImageID:          "ami-0123456789abcdef0",
	})
	if err != nil {
		slog.Error("write identity", "err", err)
		return
	}
	agent, err := nodeagent.New(nodeagent.Config{Root: root})
	if err != nil {
		slog.Error("node agent", "err", err) // every problem with the inputs, at once
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-agent.Ready() // registered and holding its lease
		slog.Info("node ready", "node", agent.NodeName())
	}()
	if err := agent.Run(ctx); err != nil { // nil after ctx ends
		slog.Error("node agent", "err", err)
	}
}
