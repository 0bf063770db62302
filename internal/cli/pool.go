package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/catalog"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// awsFlags select the AWS account, region and endpoint, like the AWS CLI.
type awsFlags struct {
	region   string
	endpoint string
	profile  string
	cluster  string
}

func (a *awsFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&a.region, "region", "", "AWS region (default from AWS_REGION or the shared config)")
	cmd.PersistentFlags().StringVar(&a.endpoint, "endpoint", "", "AWS endpoint URL, e.g. the local cloud's (default AWS_ENDPOINT_URL)")
	cmd.PersistentFlags().StringVar(&a.profile, "profile", "", "AWS shared config profile, as the AWS CLI's --profile (default $AWS_PROFILE)")
	cmd.PersistentFlags().StringVar(&a.cluster, "cluster-name", os.Getenv(clusterNameEnv), "cluster name: drives the cluster tag, discovery tags and token groups (default $"+clusterNameEnv+")")
}

// clusterNameEnv names the cluster for every command that takes
// --cluster-name; the env file of kelp up exports it.
const clusterNameEnv = "KELP_CLUSTER_NAME"

// config loads the SDK config through the AWS adapter's one loader.
func (a *awsFlags) config(ctx context.Context) (sdkaws.Config, error) {
	if slices.Contains(userdata.Profiles(), userdata.Profile(a.profile)) {
		return sdkaws.Config{}, fmt.Errorf("--profile %s: --profile is the AWS credentials profile in kelp; the user-data layout is --userdata-profile %s", a.profile, a.profile)
	}
	cfg, err := awscloud.LoadSDKConfig(ctx, awscloud.SDKOptions{Region: a.region, Endpoint: a.endpoint, Profile: a.profile})
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return sdkaws.Config{}, errors.New("no AWS region: set --region or AWS_REGION")
	}
	return cfg, nil
}

// provisioner returns the pool provisioner of --cluster-name, calling AWS
// through the adapter. With a client, it issues the bootstrap tokens of
// token rotation through it.
func (a *awsFlags) provisioner(ctx context.Context, client kubernetes.Interface) (*pool.Provisioner, error) {
	if a.cluster == "" {
		return nil, errors.New("--cluster-name is required (or set KELP_CLUSTER_NAME)")
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	adapter, err := awscloud.New(ctx, awscloud.Config{ClusterName: a.cluster, Region: cfg.Region},
		awscloud.Deps{SDKConfig: &cfg, Logger: slog.New(levelHandler{slog.Default().Handler(), slog.LevelWarn})})
	if err != nil {
		return nil, err
	}
	d := pool.Deps{Cloud: adapter, Refresher: adapter}
	if client != nil {
		d.Tokens = pool.KubeTokens{Client: client}
	}
	return pool.New(a.cluster, d), nil
}

// levelHandler limits a handler to records at or above level: the pool
// commands report their own results, and only the adapter's warnings
// (throttling) besides.
type levelHandler struct {
	slog.Handler
	level slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}
func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(attrs), h.level}
}
func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.level}
}

func newPoolCommand() *cobra.Command {
	var af awsFlags
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Create, list, scale, update, roll and delete node pools (launch template + Auto Scaling group)",
	}
	af.add(cmd)
	kf.add(cmd)
	cmd.AddCommand(
		newPoolCreateCommand(&af, &kf),
		newPoolListCommand(&af, &kf),
		newPoolDescribeCommand(&af),
		newPoolScaleCommand(&af),
		newPoolUpdateCommand(&af),
		newPoolRollCommand(&af),
		newPoolDeleteCommand(&af, &kf),
		newPoolAdoptHookCommand(&af),
		newPoolInterruptionQueueCommand(&af),
	)
	return cmd
}

type poolCreateOptions struct {
	spec         pool.Spec
	spot         bool
	desired      int32
	labels       []string
	taints       []string
	userDataFile string
	ud           userdataOptions
	heartbeat    time.Duration
}

func newPoolCreateCommand(af *awsFlags, kf *kubeFlags) *cobra.Command {
	var o poolCreateOptions
	cmd := &cobra.Command{
		Use:   "create NAME --instance-types TYPE[,TYPE...] [--image AMI]",
		Short: "Create a pool: a launch template with join user-data and a tagged Auto Scaling group",
		Long: `create renders the pool's user-data (a bootstrap token bound to the pool, the
cluster's API server and CA from your kubeconfig, labels and taints) unless
--user-data-file is given, checks the image exists, then creates the launch
template and the Auto Scaling group tagged kubernetes.io/cluster/<cluster>=owned,
kelp.dev/pool=<name>, kelp.dev/join=<token|identity> and the cluster-autoscaler
discovery and node-template tags, and puts kelp's termination lifecycle hook
(kelp-drain) on it: a leaving instance waits for kelp to drain its Node, or,
with no kelp to answer, at most --drain-heartbeat-timeout before it goes
anyway (default result CONTINUE).

--instance-profile gives the instances an IAM instance profile (you need
iam:PassRole on its role; docs/aws.md). --join=identity needs one: the
user-data then carries no secret, only kelp's join endpoint (--join-endpoint)
and its CA (--join-endpoint-ca) besides the API server and its CA; the node
proves who it is with its instance role (kelp join) and gets a token bound to
that one instance. Token rotation leaves such pools alone. On kelp's local
cloud (no --image), --join=identity alone is enough: the join endpoint, its
CA (Secret kube-system/kelp-join-ca), the STS and metadata endpoints of the
local cluster that $KELP_LOCAL_DIR names (the env file of kelp up sets it)
and the instance profile kelp-node fill in the flags not given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPoolCreate(cmd, af, kf, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.spec.ImageID, "image", "", "AMI id, or resolve:ssm:PARAMETER as launch templates take it (default on a local cloud: its kelp-local-node image)")
	f.StringSliceVar(&o.spec.InstanceTypes, "instance-types", nil, "instance types; more than one makes a mixed-instances group")
	f.BoolVar(&o.spot, "spot", false, "launch spot instances (price-capacity-optimized across the types)")
	f.StringSliceVar(&o.spec.Subnets, "subnets", nil, "subnet ids (default: the region's default subnets)")
	f.StringSliceVar(&o.spec.SecurityGroupIDs, "security-groups", nil, "security group ids")
	f.StringVar(&o.spec.KeyName, "key-name", "", "EC2 key pair name")
	f.Int32Var(&o.spec.MinSize, "min", 0, "minimum size")
	f.Int32Var(&o.spec.MaxSize, "max", 10, "maximum size")
	f.Int32Var(&o.desired, "desired", -1, "desired capacity (default: min)")
	f.StringArrayVar(&o.labels, "label", nil, "node label key=value (repeatable)")
	f.StringArrayVar(&o.taints, "taint", nil, "node taint key[=value]:Effect (repeatable)")
	f.StringVar(&o.spec.Metadata.HTTPTokens, "metadata-http-tokens", pool.HTTPTokensRequired, "instance metadata tokens: required (IMDSv2 only, so pods cannot read the user-data) or optional")
	f.Int32Var(&o.spec.Metadata.HopLimit, "metadata-hop-limit", 1, "instance metadata PUT response hop limit, 1 to 64 (1 keeps IMDSv2 from pods)")
	f.DurationVar(&o.heartbeat, "drain-heartbeat-timeout", pool.DefaultDrainHeartbeatTimeout, drainHeartbeatUsage)
	f.StringVar(&o.spec.InstanceProfile, "instance-profile", "", "IAM instance profile (name or ARN) of the instances; required by --join=identity (on the local cloud: kelp-node)")
	o.ud.join.add(f)
	f.StringVar(&o.userDataFile, "user-data-file", "", "use this user-data instead of rendering it")
	addUserdataProfileFlag(f, &o.ud.profile)
	f.StringVar(&o.ud.registryAuthFile, "registry-auth", "", "docker config.json with registry credentials for the user-data")
	f.StringVar(&o.ud.region, "openshift-region", "", "openshift-3.11 aws.conf zone or region")
	return cmd
}

func runPoolCreate(cmd *cobra.Command, af *awsFlags, kf *kubeFlags, name string, o poolCreateOptions) error {
	spec := o.spec
	spec.Name = name
	if o.spot {
		spec.CapacityType = catalog.CapacityTypeSpot
	}
	if o.desired >= 0 {
		spec.DesiredCapacity = &o.desired
	}
	if err := checkHopLimitFlag(cmd, spec.Metadata.HopLimit); err != nil {
		return err
	}
	if err := checkDrainHeartbeatFlag(cmd, o.heartbeat); err != nil {
		return err
	}
	if cmd.Flags().Changed(drainHeartbeatFlag) {
		spec.DrainHeartbeatTimeout = &metav1.Duration{Duration: o.heartbeat}
	}
	var err error
	if spec.Labels, err = parseLabels(o.labels); err != nil {
		return err
	}
	if spec.Taints, err = parseTaints(o.taints); err != nil {
		return err
	}
	identity, err := o.ud.join.identity()
	if err != nil {
		return err
	}
	if identity {
		spec.Join.Mode = pool.JoinModeIdentity
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("invalid pool: %w", err)
	}
	if w := spec.SizeWarning(); w != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	local := false
	if spec.ImageID == "" {
		if err := defaultLocalImage(cmd, af, &spec, &o); err != nil {
			return err
		}
		local = true
	}
	if identity {
		if local {
			if err := localIdentityJoin(cmd, kf, &spec, &o.ud.join); err != nil {
				return err
			}
		}
		if spec.InstanceProfile == "" {
			return errors.New("--join=identity needs --instance-profile: the instance proves who it is with its instance role")
		}
	}
	ud, err := poolUserData(cmd, af, kf, spec, o)
	if err != nil {
		return err
	}
	prov, err := af.provisioner(cmd.Context(), nil)
	if err != nil {
		return err
	}
	p, err := prov.Create(cmd.Context(), spec, ud)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "pool %s created: group %s, launch template %s, size %d [%d, %d], %s\n", p.Name, p.GroupName, p.LaunchTemplate, p.Desired, p.MinSize, p.MaxSize, drainHookText(p.DrainHook))
	return nil
}

// poolUserData is the user-data step of a new pool: the file given, or an
// identity or token join from flags, validated before any call (a token
// is issued only once the image is known to exist).
func poolUserData(cmd *cobra.Command, af *awsFlags, kf *kubeFlags, spec pool.Spec, o poolCreateOptions) (pool.UserData, error) {
	if o.userDataFile != "" {
		data, err := os.ReadFile(o.userDataFile)
		if err != nil {
			return nil, fmt.Errorf("read --user-data-file: %w", err)
		}
		return pool.StaticUserData(data), nil
	}
	o.ud.pool, o.ud.cluster, o.ud.tokenTTL = spec.Name, af.cluster, defaultPoolTokenTTL
	if spec.Join.Mode == pool.JoinModeIdentity {
		join, err := identityJoin(kf, o.ud)
		if err != nil {
			return nil, err
		}
		return join, join.Validate(spec)
	}
	join, err := tokenJoin(cmd, kf, o.ud)
	if err != nil {
		return nil, err
	}
	return join, join.Validate(spec)
}

// defaultLocalImage fills in the image of a pool on kelp's local cloud:
// its kelp-local-node image, and the local user-data layout unless one was
// given. Elsewhere --image is required.
func defaultLocalImage(cmd *cobra.Command, af *awsFlags, spec *pool.Spec, o *poolCreateOptions) error {
	cfg, err := af.config(cmd.Context())
	if err != nil {
		return err
	}
	id, err := awscloud.FindOwnImage(cmd.Context(), cfg, awscloud.LocalNodeImage)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("invalid pool: --image is required (an AMI id, or resolve:ssm:PARAMETER); only kelp's local cloud has a default")
	}
	spec.ImageID = id
	if !cmd.Flags().Changed("userdata-profile") && o.userDataFile == "" {
		o.ud.profile = string(userdata.ProfileLocal)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "no --image: using the local cloud's %s image %s, user-data layout %s\n", awscloud.LocalNodeImage, id, o.ud.profile)
	return nil
}

// localIdentityJoin fills in, on kelp's local cloud, what --join=identity
// needs and was not given: the join endpoint, STS and metadata endpoints
// of the local cluster that $KELP_LOCAL_DIR names (the env file of kelp up
// sets it), the join endpoint's CA from its Secret, and the local
// account's instance profile. It says what it filled in.
func localIdentityJoin(cmd *cobra.Command, kf *kubeFlags, spec *pool.Spec, j *nodeJoinFlags) error {
	if j.endpoint != "" && j.endpointCAFile != "" && j.stsEndpoint != "" && j.imdsEndpoint != "" && spec.InstanceProfile != "" {
		return nil
	}
	const flags = "--join-endpoint, --join-endpoint-ca, --join-sts-endpoint, --join-imds-endpoint and --instance-profile"
	dir := os.Getenv(localup.DirEnv)
	if dir == "" {
		return fmt.Errorf("--join=identity on the local cloud: $%s is not set, so the local cluster's join endpoint is unknown: "+
			"source the env file kelp up wrote (<dir>/<name>/env), or give %s", localup.DirEnv, flags)
	}
	ep, err := localup.ReadJoinEndpoints(dir)
	if err != nil {
		return fmt.Errorf("--join=identity on the local cloud ($%s=%s): %w; or give %s", localup.DirEnv, dir, err, flags)
	}
	var filled []string
	fill := func(v *string, to, what string) {
		if *v == "" {
			*v = to
			filled = append(filled, what+" "+to)
		}
	}
	fill(&j.endpoint, ep.Endpoint, "join endpoint")
	fill(&j.stsEndpoint, ep.STSEndpoint, "STS")
	fill(&j.imdsEndpoint, ep.MetadataEndpoint, "metadata")
	fill(&spec.InstanceProfile, ep.InstanceProfile, "instance profile")
	if j.endpointCAFile == "" {
		client, err := kf.client()
		if err != nil {
			return fmt.Errorf("--join=identity on the local cloud: the join endpoint's CA: %w; or give --join-endpoint-ca", err)
		}
		ca, err := join.EnsureCA(cmd.Context(), client, time.Now())
		if err != nil {
			return fmt.Errorf("--join=identity on the local cloud: %w; or give --join-endpoint-ca", err)
		}
		j.endpointCA = ca.PEM
		filled = append(filled, "the join endpoint's CA from Secret "+join.ClaimNamespace+"/"+join.CASecret)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "--join=identity on the local cloud in %s: %s\n", dir, strings.Join(filled, ", "))
	return nil
}

func newPoolListCommand(af *awsFlags, kf *kubeFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pools with desired, actual, min, max, Ready and outdated nodes, and their drain hooks",
		Long: `list shows each pool's sizes, its Ready nodes, its drain hook and OUTDATED: the
instances launched from a launch template version that differs from the pool's
current one in anything but the bootstrap token in the user-data (token
rotation writes a new version for every rotation; those count as current).
kelp pool roll NAME replaces them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			pools, err := prov.List(cmd.Context())
			if err != nil {
				return err
			}
			ready, readyErr := readyNodesByPool(cmd.Context(), kf)
			if readyErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "ready nodes unknown: %v\n", readyErr)
			}
			return out.print(cmd.OutOrStdout(), poolViews(pools, ready, readyErr == nil), func() error {
				return printPoolTable(cmd.OutOrStdout(), pools, ready, readyErr == nil)
			})
		},
	}
	out.add(cmd)
	return cmd
}

// poolViews are the pools with their Ready nodes when known.
func poolViews(pools []pool.Pool, ready map[string]int, readyKnown bool) []poolView {
	views := make([]poolView, len(pools))
	for i, p := range pools {
		views[i] = newPoolView(p)
		if readyKnown {
			n := ready[p.Name]
			views[i].ReadyNodes = &n
		}
	}
	return views
}

func printPoolTable(out io.Writer, pools []pool.Pool, ready map[string]int, readyKnown bool) error {
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "NAME\tGROUP\tDESIRED\tINSTANCES\tMIN\tMAX\tREADY NODES\tOUTDATED\tCAPACITY\tDRAIN HOOK")
	for _, p := range pools {
		r := fmt.Sprint(ready[p.Name])
		if !readyKnown {
			r = "?"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", p.Name, p.GroupName, p.Desired, p.Instances, p.MinSize, p.MaxSize, r, len(p.Outdated), p.CapacityType, drainHookText(p.DrainHook))
	}
	return w.Flush()
}

// readyNodesByPool counts Ready nodes by their kelp.dev/pool label.
func readyNodesByPool(ctx context.Context, kf *kubeFlags) (map[string]int, error) {
	client, err := kf.client()
	if err != nil {
		return nil, err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := map[string]int{}
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				out[n.Labels[pool.PoolTag]]++
			}
		}
	}
	return out, nil
}
