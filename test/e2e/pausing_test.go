package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cli"
	"github.com/kelp-dev/kelp/internal/cloud"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/controller"
)

// runPausingControllerEnv makes the test binary run kelp's controller,
// wired here rather than by the CLI, with a cloud scaler whose
// DeleteInstances blocks until the process dies: every node removal stops
// before its instance is terminated, so a test can kill the process
// mid-removal. os.Args[1:] are the kubeconfig path and the cluster name;
// AWS is configured by the environment (AWS_ENDPOINT_URL, AWS_REGION).
const runPausingControllerEnv = "KELP_E2E_RUN_PAUSING_CONTROLLER"

// pausedMessage is logged by the pausing scaler when a removal reaches it.
const pausedMessage = "node removal paused before terminating the instance"

// pausingScaler is the cloud's scaler, except that DeleteInstances waits
// for the end of ctx: a node removal never gets past Terminate.
type pausingScaler struct {
	cloud.Scaler
}

func (s pausingScaler) DeleteInstances(ctx context.Context, group string, ids []string) error {
	slog.Warn(pausedMessage, "group", group, "instances", ids)
	<-ctx.Done()
	return ctx.Err()
}

// runPausingController runs the controller until SIGTERM or SIGINT and
// returns the exit code.
func runPausingController(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "want: KUBECONFIG CLUSTER-NAME")
		return 2
	}
	cli.RouteKlog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := pausingController(ctx, args[0], args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

func pausingController(ctx context.Context, kubeconfig, clusterName string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("build client: %w", err)
	}
	provider, err := awscloud.New(ctx, awscloud.Config{ClusterName: clusterName}, awscloud.Deps{Logger: slog.Default()})
	if err != nil {
		return err
	}
	sd := autoscaler.DefaultScaleDownOptions()
	sd.UnneededTime, sd.DelayAfterAdd, sd.DelayAfterDelete, sd.DelayAfterFailure = 2*time.Second, 0, 0, 0
	opts := controller.Options{
		ClusterName: clusterName, Approve: approver.ModeManual,
		Autoscaler: &loop.Options{ScanInterval: time.Second, ScaleDownEnabled: true, ScaleDown: sd},
	}
	return controller.Run(ctx, opts, controller.Deps{Client: client, Cloud: provider, Scaler: pausingScaler{provider}, Logger: slog.Default()})
}
