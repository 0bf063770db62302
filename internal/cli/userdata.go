package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	join                   nodeJoinFlags
}

// nodeJoinFlags are the identity join's flags, shared by kelp pool create and
// kelp userdata render.
type nodeJoinFlags struct {
	mode                      string
	endpoint, endpointCAFile  string
	stsEndpoint, imdsEndpoint string
	// endpointCA is the CA itself, when kelp found it (pool create on the
	// local cloud) rather than --join-endpoint-ca.
	endpointCA []byte
}

func (j *nodeJoinFlags) add(f *pflag.FlagSet) {
	f.StringVar(&j.mode, "join", string(pool.JoinModeToken), "how nodes join: token (a bootstrap token in the user-data) or identity "+
		"(no secret in the user-data: the instance proves who it is with its instance role to kelp's join endpoint)")
	f.StringVar(&j.endpoint, "join-endpoint", "", "identity join: kelp's join endpoint, https://<host>[:port]")
	f.StringVar(&j.endpointCAFile, "join-endpoint-ca", "", "identity join: PEM file of the CA the join endpoint's certificate chains to")
	f.StringVar(&j.stsEndpoint, "join-sts-endpoint", "", "identity join: the STS endpoint the controller verifies with (default the instance's region's)")
	f.StringVar(&j.imdsEndpoint, "join-imds-endpoint", "", "identity join: the instance metadata address (default EC2's; local clouds only)")
}

// identity reports whether --join is identity, refusing modes kelp does
// not know and identity-only flags in token mode.
func (j nodeJoinFlags) identity() (bool, error) {
	switch pool.JoinMode(j.mode) {
	case pool.JoinModeIdentity:
		return true, nil
	case pool.JoinModeToken:
		if j.endpoint != "" || j.endpointCAFile != "" || j.stsEndpoint != "" || j.imdsEndpoint != "" {
			return false, errors.New("--join-endpoint, --join-endpoint-ca, --join-sts-endpoint and --join-imds-endpoint are for --join=identity")
		}
		return false, nil
	}
	return false, flagError("join", j.mode, "want token or identity")
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
		Use:   "render --pool POOL [--userdata-profile kubeadm|openshift-3.11|local] [--join=identity --join-endpoint URL --join-endpoint-ca FILE]",
		Short: "Render #cloud-config user-data that makes an instance join the pool (a bootstrap token, or its identity)",
		Long: `render writes a #cloud-config document carrying a bootstrap kubeconfig (the
API server and CA of your kubeconfig's cluster, and a bootstrap token bound to
the pool), optional registry credentials, and the pool's labels and taints.
Without --token a new token is created for the pool. Documents over EC2's
16 KiB limit are gzipped; write those with --output-file.

With --join=identity (profiles kubeadm and local) the document carries no
secret: kelp's join endpoint (--join-endpoint) and the CA to trust it
(--join-endpoint-ca), the API server and its CA; the node runs kelp join, which
proves the instance's identity with its instance role and gets a token bound
to that one instance. --token and --registry-auth are refused with it.`,
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
	o.join.add(f)
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

// identityJoin gathers the identity join step from flags: the join
// endpoint and its CA, the API server and CA nodes use (as tokenJoin's),
// the optional STS and metadata endpoints. Registry credentials are
// refused: they are a secret, and identity-mode user-data carries none.
func identityJoin(kf *kubeFlags, o userdataOptions) (pool.IdentityJoinUserData, error) {
	if o.registryAuthFile != "" {
		return pool.IdentityJoinUserData{}, errors.New("--registry-auth: registry credentials are a secret and --join=identity user-data carries none; " +
			"bake them into the image or let the instance role pull (e.g. ECR), or use --join=token")
	}
	if o.token != "" {
		return pool.IdentityJoinUserData{}, errors.New("--token: --join=identity user-data carries no bootstrap token")
	}
	if o.join.endpoint == "" || (o.join.endpointCAFile == "" && o.join.endpointCA == nil) {
		return pool.IdentityJoinUserData{}, errors.New("--join=identity needs --join-endpoint (kelp's join endpoint, https://<host>[:port]) and --join-endpoint-ca (the PEM file of its CA)")
	}
	ca, err := o.join.endpointCA, error(nil)
	if o.join.endpointCAFile != "" {
		if ca, err = os.ReadFile(o.join.endpointCAFile); err != nil {
			return pool.IdentityJoinUserData{}, fmt.Errorf("read --join-endpoint-ca: %w", err)
		}
	}
	j := pool.IdentityJoinUserData{
		Join: userdata.IdentityJoin{Endpoint: o.join.endpoint, EndpointCA: ca,
			STSEndpoint: o.join.stsEndpoint, MetadataEndpoint: o.join.imdsEndpoint},
		Template: userdata.Input{Profile: userdata.Profile(o.profile), ClusterName: o.cluster, NodeConfigName: o.nodeConfigName, Region: o.region},
	}
	if j.Join.Server, j.Join.ServerCA, err = clusterEndpoint(kf, o); err != nil {
		return pool.IdentityJoinUserData{}, err
	}
	return j, nil
}

// renderer renders a pool's user-data, either join.
type renderer interface {
	Render(ctx context.Context, spec pool.Spec) (userdata.Rendered, error)
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
	identity, err := o.join.identity()
	if err != nil {
		return err
	}
	spec := pool.Spec{Name: o.pool, Labels: labels, Taints: taints}
	var r renderer
	if identity {
		spec.Join.Mode = pool.JoinModeIdentity
		// The profile is the pool's concern, not the document's: any
		// satisfies the spec here.
		spec.InstanceProfile = "instance-profile"
		if r, err = identityJoin(kf, o); err != nil {
			return err
		}
	} else if r, err = tokenJoin(cmd, kf, o); err != nil {
		return err
	}
	out, err := r.Render(cmd.Context(), spec)
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
