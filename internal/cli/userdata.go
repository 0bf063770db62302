package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

type userdataOptions struct {
	profile, cluster, pool string
	token                  string
	tokenTTL               time.Duration
	server, caFile         string
	registryAuthFile       string
	labels, taints         []string
	nodeConfigName, region string
	output                 string
}

func newUserdataCommand() *cobra.Command {
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "userdata",
		Short: "Render the cloud-init user-data that makes an instance join a pool",
	}
	kf.add(cmd)
	var o userdataOptions
	render := &cobra.Command{
		Use:   "render --pool POOL [--userdata-profile kubeadm|openshift-3.11|local]",
		Short: "Render #cloud-config user-data with a bootstrap kubeconfig for the pool",
		Long: `render writes a #cloud-config document carrying a bootstrap kubeconfig (the
API server and CA of your kubeconfig's cluster, and a bootstrap token bound to
the pool), optional registry credentials, and the pool's labels and taints.
Without --token a new token is created for the pool. Documents over EC2's
16 KiB limit are gzipped; write those with --output-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUserdataRender(cmd, &kf, o) },
	}
	f := render.Flags()
	addUserdataProfileFlag(f, &o.profile)
	f.StringVar(&o.cluster, "cluster-name", os.Getenv(clusterNameEnv), "cluster name (default $"+clusterNameEnv+")")
	f.StringVar(&o.pool, "pool", "", "pool the node joins (a DNS label)")
	_ = render.MarkFlagRequired("pool")
	f.StringVar(&o.token, "token", "", "bootstrap token id.secret (default: create one for the pool)")
	f.DurationVar(&o.tokenTTL, "token-ttl", 24*time.Hour, "lifetime of a created token")
	f.StringVar(&o.server, "server", "", "API server URL nodes use (default: the kubeconfig's)")
	f.StringVar(&o.caFile, "ca-file", "", "cluster CA file (default: the kubeconfig's)")
	f.StringVar(&o.registryAuthFile, "registry-auth", "", "docker config.json with registry credentials")
	f.StringArrayVar(&o.labels, "label", nil, "node label key=value (repeatable)")
	f.StringArrayVar(&o.taints, "taint", nil, "register-with taint key[=value]:Effect (repeatable)")
	f.StringVar(&o.nodeConfigName, "node-config-name", "", "openshift-3.11 node group ConfigMap (default "+userdata.DefaultNodeConfigName+")")
	f.StringVar(&o.region, "openshift-region", "", "openshift-3.11 aws.conf zone or region")
	f.StringVar(&o.output, "output-file", "", "write to this file (0600) instead of stdout")
	movedFlag(f, "region", "", "--region is the AWS region in kelp; the openshift-3.11 aws.conf zone or region is --openshift-region")
	movedFlag(f, "profile", "", "--profile is the AWS credentials profile in kelp; the user-data layout is --userdata-profile")
	movedFlag(f, "output", "o", "-o/--output selects json or yaml on list and describe commands; write the user-data to a file with --output-file")
	cmd.AddCommand(render)
	return cmd
}

// defaultPoolTokenTTL is the lifetime of the token baked into a pool's
// user-data; the controller rotates it before expiry.
const defaultPoolTokenTTL = 24 * time.Hour

// tokenJoin gathers the token join step from flags: registry
// credentials, the API server and CA nodes use, and the token (--token, or
// one created for the pool when the user-data is rendered). Labels and
// taints are the spec's.
func tokenJoin(cmd *cobra.Command, kf *kubeFlags, o userdataOptions) (pool.TokenJoin, error) {
	j := pool.TokenJoin{TTL: o.tokenTTL, Tokens: cliTokens{cmd: cmd, kf: kf}, Template: userdata.Input{
		Profile: userdata.Profile(o.profile), ClusterName: o.cluster, NodeConfigName: o.nodeConfigName, Region: o.region,
	}}
	if o.registryAuthFile != "" {
		data, err := os.ReadFile(o.registryAuthFile)
		if err != nil {
			return pool.TokenJoin{}, fmt.Errorf("read --registry-auth: %w", err)
		}
		j.Template.RegistryAuth = data
	}
	var err error
	if j.Server, j.CA, err = clusterEndpoint(kf, o); err != nil {
		return pool.TokenJoin{}, err
	}
	if o.token != "" {
		if !bootstraputil.IsValidBootstrapToken(o.token) {
			return pool.TokenJoin{}, flagError("token", "<redacted>", "want [a-z0-9]{6}.[a-z0-9]{16}")
		}
		j.Tokens = givenToken{ID: o.token[:6], Secret: o.token[7:], Pool: o.pool}
	}
	return j, nil
}

func runUserdataRender(cmd *cobra.Command, kf *kubeFlags, o userdataOptions) error {
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	taints, err := parseTaints(o.taints)
	if err != nil {
		return err
	}
	join, err := tokenJoin(cmd, kf, o)
	if err != nil {
		return err
	}
	out, err := join.Render(cmd.Context(), pool.Spec{Name: o.pool, Labels: labels, Taints: taints})
	if err != nil {
		return err
	}
	if o.output != "" {
		if err := os.WriteFile(o.output, out.Data, 0o600); err != nil {
			return fmt.Errorf("write --output-file: %w", err)
		}
		if out.Gzipped {
			fmt.Fprintf(cmd.ErrOrStderr(), "user-data is %d bytes, over EC2's %d: wrote it gzipped (%d bytes)\n", len(out.Document), userdata.MaxUserDataSize, len(out.Data))
		}
		return nil
	}
	if out.Gzipped {
		return fmt.Errorf("user-data is %d bytes, over EC2's %d: it must be gzipped; use --output-file FILE", len(out.Document), userdata.MaxUserDataSize)
	}
	_, err = cmd.OutOrStdout().Write(out.Data)
	return err
}

// clusterEndpoint returns the API server URL and CA nodes use: from flags,
// else from the kubeconfig's current cluster.
func clusterEndpoint(kf *kubeFlags, o userdataOptions) (server string, ca []byte, err error) {
	cfg, err := kf.restConfig()
	if err != nil {
		return "", nil, err
	}
	server, ca = o.server, cfg.CAData
	if server == "" {
		server = cfg.Host
	}
	if o.caFile != "" {
		ca, err = os.ReadFile(o.caFile)
	} else if len(ca) == 0 && cfg.CAFile != "" {
		ca, err = os.ReadFile(cfg.CAFile)
	}
	if err != nil {
		return "", nil, fmt.Errorf("read cluster CA: %w", err)
	}
	return server, ca, nil
}

// givenToken is the --token: issued as is.
type givenToken bootstrap.Token

func (t givenToken) IssueToken(context.Context, bootstrap.TokenSpec) (bootstrap.Token, error) {
	return bootstrap.Token(t), nil
}

// cliTokens creates a token bound to the pool (making sure kelp's
// bootstrappers may join first) and reports it on stderr.
type cliTokens struct {
	cmd *cobra.Command
	kf  *kubeFlags
}

func (c cliTokens) IssueToken(ctx context.Context, spec bootstrap.TokenSpec) (bootstrap.Token, error) {
	client, err := c.kf.client()
	if err != nil {
		return bootstrap.Token{}, err
	}
	if err := bootstrap.EnsureJoinRBAC(ctx, client); err != nil {
		return bootstrap.Token{}, err
	}
	tok, err := bootstrap.CreateToken(ctx, client, spec, time.Now())
	if err != nil {
		return bootstrap.Token{}, err
	}
	fmt.Fprintf(c.cmd.ErrOrStderr(), "created bootstrap token %s for pool %s (expires %s)\n", tok.ID, tok.Pool, tok.Expires.UTC().Format(time.RFC3339))
	return tok, nil
}
