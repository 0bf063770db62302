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
	"github.com/kelp-dev/kelp/internal/join"
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
	health         controller.HealthOptions
	// gracefulSec is --max-graceful-termination-sec, cluster-autoscaler's
	// name (in seconds) of --max-graceful-termination.
	gracefulSec int
	join        joinFlags
	// webAddr serves the live web view (package webview).
	webAddr string
	// fs is where the flags were added, to tell which were given.
	fs *pflag.FlagSet
}

// DefaultWebAddr is where the live web view listens by default: loopback,
// so it asks for no token (kubectl port-forward reaches it in a pod).
const DefaultWebAddr = "127.0.0.1:8081"

// joinFlags configure the identity join endpoint (issue 17).
type joinFlags struct {
	addr, sts, account string
	roles, hosts       []string
	certFile, keyFile  string
	tokenTTL           time.Duration
	rateLimit          float64
	burst              int
}

func (f *joinFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.addr, "join-addr", "", "HTTPS address every replica serves the identity join endpoint on, e.g. :8443 (empty: off; docs/security.md)")
	fs.StringVar(&f.sts, "join-sts-endpoint", "", "the one STS endpoint identity join proofs are forwarded to, e.g. https://sts.us-east-1.amazonaws.com")
	fs.StringSliceVar(&f.roles, "join-roles", nil, "IAM role names (the pools' instance profiles' roles) whose instance sessions may join by identity")
	fs.StringVar(&f.account, "join-account", "", "the only AWS account whose instances may join by identity (empty: any account the roles' names match)")
	fs.StringSliceVar(&f.hosts, "join-cert-hosts", nil, "DNS names and IP addresses instances reach the join endpoint at, put in its serving certificate (issued from the CA in Secret kube-system/kelp-join-ca)")
	fs.StringVar(&f.certFile, "join-cert-file", "", "serving certificate of the join endpoint (with --join-key-file; instead of one issued from kube-system/kelp-join-ca)")
	fs.StringVar(&f.keyFile, "join-key-file", "", "private key of --join-cert-file")
	fs.DurationVar(&f.tokenTTL, "join-token-ttl", join.DefaultTokenTTL, "lifetime of the single-instance bootstrap token an identity join hands out")
	fs.Float64Var(&f.rateLimit, "join-rate-limit", join.DefaultRate, "requests a second each replica's join endpoint answers (a join is two); more get 429 and the instance retries")
	fs.IntVar(&f.burst, "join-burst", join.DefaultBurst, "requests each replica's join endpoint answers at once above --join-rate-limit")
}

// options are the join endpoint's options; nil without --join-addr.
func (f *joinFlags) options() *controller.JoinOptions {
	if f.addr == "" {
		return nil
	}
	return &controller.JoinOptions{
		Addr: f.addr, Policy: join.Policy{STSEndpoint: f.sts, AllowedRoles: f.roles, Account: f.account},
		CertFile: f.certFile, KeyFile: f.keyFile, Hosts: f.hosts, TokenTTL: f.tokenTTL,
		RateLimit: f.rateLimit, Burst: f.burst,
	}
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
	fs.Float32Var(&f.kubeAPI.QPS, "kube-client-qps", controller.DefaultKubeAPIQPS, "sustained requests per second of the controller's Kubernetes client, as cluster-autoscaler's flag (--kube-api-qps is another name)")
	fs.IntVar(&f.kubeAPI.Burst, "kube-client-burst", controller.DefaultKubeAPIBurst, "requests the controller's Kubernetes client may send at once above --kube-client-qps, as cluster-autoscaler's flag (--kube-api-burst is another name)")
	aliasFlag(fs, "kube-api-qps", "kube-client-qps")
	aliasFlag(fs, "kube-api-burst", "kube-client-burst")
	fs.DurationVar(&f.health.MaxInactivity, "max-inactivity", controller.DefaultMaxInactivity, "/healthz fails when the leader's autoscaler has finished no cycle for this long (as cluster-autoscaler's flag)")
	fs.DurationVar(&f.health.MaxFailingTime, "max-failing-time", controller.DefaultMaxFailingTime, "/healthz fails when the leader's autoscaler has succeeded no cycle for this long (as cluster-autoscaler's flag)")
	fs.DurationVar(&f.health.MaxCSRQueueWait, "max-csr-queue-wait", controller.DefaultMaxCSRQueueWait, "/healthz fails when a pending CSR has waited this long in the leader's approver queue for a worker")
	f.autoscaler.add(fs)
	f.join.add(fs)
	fs.StringVar(&f.webAddr, "web-addr", DefaultWebAddr, "address every replica serves the live web view on (empty: off); off loopback, its data needs a bearer token allowed to get the non-resource URL /kelp/view (docs/security.md)")
	fs.IntVar(&f.gracefulSec, "max-graceful-termination-sec", int(f.autoscaler.maxGracefulTermination/time.Second), "--max-graceful-termination in whole seconds, cluster-autoscaler's name (give one of the two, or both equal)")
	f.fs = fs
}

// gracefulTermination resolves --max-graceful-termination-sec into
// --max-graceful-termination: one setting under two names.
func (f *controllerFlags) gracefulTermination() error {
	if f.fs == nil || !f.fs.Changed("max-graceful-termination-sec") {
		return nil
	}
	sec := time.Duration(f.gracefulSec) * time.Second
	switch {
	case f.gracefulSec < 0:
		return fmt.Errorf("--max-graceful-termination-sec %d: must not be negative", f.gracefulSec)
	case f.fs.Changed("max-graceful-termination") && sec != f.autoscaler.maxGracefulTermination:
		return fmt.Errorf("--max-graceful-termination-sec %d and --max-graceful-termination %s: one setting under two names, give one (or both equal)",
			f.gracefulSec, f.autoscaler.maxGracefulTermination)
	}
	f.autoscaler.maxGracefulTermination = sec
	return nil
}

func (f *controllerFlags) options(cluster string) (controller.Options, error) {
	if err := f.gracefulTermination(); err != nil {
		return controller.Options{}, err
	}
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
		Health:                  f.health,
		// --max-graceful-termination bounds the autoscaler's drains and
		// those of instances held on kelp's drain hook alike.
		Termination:       termination.Options{MaxGracefulTermination: f.autoscaler.maxGracefulTermination},
		TerminationPeriod: f.termPeriod,
		Join:              f.join.options(),
		WebAddr:           f.webAddr,
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
	addClusterAutoscalerFlags(cmd.Flags())
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
	fs.StringSliceVar(&f.names, "nodes", nil, "an Auto Scaling group to manage, as cluster-autoscaler's MIN:MAX:NAME (kelp scales it within MIN and MAX, inside the group's own min and max) or a bare NAME (the group's own bounds); repeatable, in addition to discovery; the group must carry the cluster tag")
	fs.StringArrayVar(&f.discovery, "node-group-auto-discovery", nil, "cluster-autoscaler discovery spec, e.g. asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>")
}

// provider builds the AWS provider of the selected groups.
func (f *nodeGroupFlags) provider(ctx context.Context, af *awsFlags) (*awscloud.Provider, error) {
	cfg, err := f.config(af)
	if err != nil {
		return nil, err
	}
	return awscloud.New(ctx, cfg, awscloud.Deps{Logger: slog.Default()})
}

// config is the provider's configuration: --nodes parsed into names and
// bounds (awscloud.ParseNodesSpec), every bad value named at once.
func (f *nodeGroupFlags) config(af *awsFlags) (awscloud.Config, error) {
	cfg := awscloud.Config{ClusterName: af.cluster, Region: af.region, Endpoint: af.endpoint, AutoDiscovery: f.discovery}
	var errs []error
	for _, spec := range f.names {
		name, bounds, err := awscloud.ParseNodesSpec(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.GroupNames = append(cfg.GroupNames, name)
		if bounds != nil {
			if cfg.GroupBounds == nil {
				cfg.GroupBounds = map[string]awscloud.GroupBounds{}
			}
			cfg.GroupBounds[name] = *bounds
		}
	}
	return cfg, errors.Join(errs...)
}
