package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/terminationctl"
)

// controllerFlags are the controller's flags; `kelp up` takes them too.
type controllerFlags struct {
	approve    string
	policy     policyFlags
	probeAddr  string
	nodePeriod time.Duration
	// termPeriod is how often instances held on kelp's drain hook are
	// looked for.
	termPeriod time.Duration
	tokenTTL   time.Duration
	profiling  bool
	// allowCompeting starts in auto mode beside a csrapproving that would
	// approve kelp's joins (docs/security.md).
	allowCompeting bool
	autoscaler     autoscalerFlags
	kubeAPI        controller.ClientLimits
}

func (f *controllerFlags) add(fs *pflag.FlagSet, probeDefault string) {
	fs.StringVar(&f.approve, "approve", string(approver.ModeAuto), "node CSR approval: auto (kelp's cloud-backed policy), manual (kelp csr approve) or off (kelp does not watch CSRs)")
	f.policy.add(fs)
	fs.StringVar(&f.probeAddr, "probe-addr", probeDefault, "address serving /metrics, /healthz and /readyz (empty: off)")
	fs.BoolVar(&f.profiling, "profiling", false, "also serve Go's profiles on --probe-addr under /debug/pprof/ (as cluster-autoscaler's --profiling)")
	fs.DurationVar(&f.nodePeriod, "node-lifecycle-period", 10*time.Second, "how often Nodes of terminated instances are looked for")
	fs.DurationVar(&f.termPeriod, "termination-period", terminationctl.DefaultPeriod, "how often instances waiting on kelp's drain hook (Terminating:Wait) are looked for and their Nodes drained")
	fs.DurationVar(&f.tokenTTL, "token-ttl", 24*time.Hour, "lifetime of the bootstrap tokens in pool launch templates; rotated when a third remains")
	fs.BoolVar(&f.allowCompeting, "allow-competing-approvers", false, "start with --approve=auto even when kube-controller-manager's csrapproving would approve kelp's joins (only when csrapproving is off; see docs/security.md)")
	fs.Float32Var(&f.kubeAPI.QPS, "kube-api-qps", controller.DefaultKubeAPIQPS, "sustained requests per second of the controller's Kubernetes client")
	fs.IntVar(&f.kubeAPI.Burst, "kube-api-burst", controller.DefaultKubeAPIBurst, "requests the controller's Kubernetes client may send at once above --kube-api-qps")
	f.autoscaler.add(fs)
}

func (f *controllerFlags) options(cluster string) (controller.Options, error) {
	as, err := f.autoscaler.options()
	if err != nil {
		return controller.Options{}, err
	}
	policy, err := f.policy.config(cluster)
	if err != nil {
		return controller.Options{}, err
	}
	return controller.Options{
		ClusterName: cluster, ProbeAddr: f.probeAddr, Profiling: f.profiling, NodeLifecyclePeriod: f.nodePeriod,
		Approve: approver.Mode(f.approve), TokenTTL: f.tokenTTL, Autoscaler: as,
		Approver:                policy,
		AllowCompetingApprovers: f.allowCompeting,
		KubeAPI:                 f.kubeAPI,
		// --max-graceful-termination bounds the autoscaler's drains and
		// those of instances held on kelp's drain hook alike.
		Termination:       termination.Options{MaxGracefulTermination: f.autoscaler.maxGracefulTermination},
		TerminationPeriod: f.termPeriod,
	}, nil
}

func newControllerCommand() *cobra.Command {
	var kf kubeFlags
	var af awsFlags
	var cf controllerFlags
	var ngf nodeGroupFlags
	var leaderElect bool
	var queueURL string
	var memoryLimitRatio float64
	cmd := &cobra.Command{
		Use:   "controller --cluster-name NAME",
		Short: "Run kelp's controllers: CSR approver, autoscaler, node lifecycle, drains of leaving instances and bootstrap-token rotation",
		Long: `controller approves node CSRs only when the cloud vouches for the instance,
grows pools for unschedulable pods (--autoscaler=none leaves that to another
autoscaler), drains the Nodes of instances their groups hold on kelp's drain hook
before letting them go (and of instances warned of through --interruption-queue),
and deletes the Nodes of terminated instances. It reads the cluster through
--kubeconfig (in-cluster config when empty and running in a pod) and AWS
through the SDK's default credential chain.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if af.cluster == "" {
				return errors.New("--cluster-name is required (or set KELP_CLUSTER_NAME)")
			}
			if _, err := setMemoryLimit(memoryLimitRatio, memlimit.FromCgroup, slog.Default()); err != nil {
				return err
			}
			opts, err := cf.options(af.cluster)
			if err != nil {
				return err
			}
			opts.LeaderElect = leaderElect
			opts.InterruptionQueue = queueURL
			if err := opts.Validate(); err != nil {
				return err
			}
			rest, err := kf.restConfig()
			if err != nil {
				return err
			}
			opts.KubeAPI.Apply(rest)
			client, err := kubernetes.NewForConfig(rest)
			if err != nil {
				return fmt.Errorf("build client for %s: %w", rest.Host, err)
			}
			// Its own rate limiter: events never wait behind the work, nor
			// the work behind events.
			eventClient, err := kubernetes.NewForConfig(rest)
			if err != nil {
				return fmt.Errorf("build event client for %s: %w", rest.Host, err)
			}
			provider, err := ngf.provider(cmd.Context(), &af)
			if err != nil {
				return err
			}
			pools, err := af.provisioner(cmd.Context(), client)
			if err != nil {
				return err
			}
			deps := controller.Deps{Client: client, EventClient: eventClient, Cloud: provider, Scaler: provider, Pools: pools, Logger: slog.Default()}
			if opts.InterruptionQueue != "" {
				cfg, err := af.config(cmd.Context())
				if err != nil {
					return err
				}
				deps.InterruptionQueue = controller.SQSInterruptionQueue(cfg, slog.Default())
			}
			return controller.Run(cmd.Context(), opts, deps)
		},
	}
	kf.add(cmd)
	af.add(cmd)
	cf.add(cmd.Flags(), ":8080")
	ngf.add(cmd.Flags())
	cmd.Flags().BoolVar(&leaderElect, "leader-elect", true, "run only while holding the kube-system/kelp-controller Lease")
	cmd.Flags().Float64Var(&memoryLimitRatio, "memory-limit-ratio", DefaultMemoryLimitRatio, "set the Go runtime's soft memory limit (GOMEMLIMIT) to this fraction of the container's memory limit, so the heap stays under it instead of growing to twice its live size (0: off; an explicit GOMEMLIMIT wins; no effect without a cgroup limit)")
	cmd.Flags().StringVar(&queueURL, "interruption-queue", "", "URL of the SQS queue EventBridge fills with spot interruption, rebalance, scheduled-change and lifecycle events (docs/aws.md); empty: departing instances are found by polling the groups only")
	return cmd
}

// nodeGroupFlags select the Auto Scaling groups kelp manages, by name and
// by cluster-autoscaler's discovery specs; every command that reads them
// (kelp controller, kelp csr explain) takes these.
type nodeGroupFlags struct {
	names, discovery []string
}

func (f *nodeGroupFlags) add(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.names, "nodes", nil, "Auto Scaling groups to manage by name (in addition to discovery)")
	fs.StringArrayVar(&f.discovery, "node-group-auto-discovery", nil, "cluster-autoscaler discovery spec, e.g. asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>")
}

// provider builds the AWS provider of the selected groups.
func (f *nodeGroupFlags) provider(ctx context.Context, af *awsFlags) (*awscloud.Provider, error) {
	return awscloud.New(ctx, awscloud.Config{
		ClusterName: af.cluster, Region: af.region, Endpoint: af.endpoint, GroupNames: f.names, AutoDiscovery: f.discovery,
	}, awscloud.Deps{Logger: slog.Default()})
}
