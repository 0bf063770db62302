package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	awsadapter "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/join"
)

// joinOptions are the flags of `kelp join`.
type joinOptions struct {
	endpoint, endpointCA     string
	stsEndpoint, imdsAddress string
	server, serverCA         string
	nodeName, out            string
	timeout                  time.Duration
}

func newJoinCommand() *cobra.Command {
	var o joinOptions
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Prove this instance's identity to kelp and write the kubelet's bootstrap kubeconfig",
		Long: "Run on a new instance of an identity-mode pool before the kubelet starts: reads the instance role's\n" +
			"credentials from IMDSv2, asks kelp's join endpoint for a nonce, sends it a signed\n" +
			"sts:GetCallerIdentity proof, and writes the bootstrap kubeconfig holding the token kelp answers,\n" +
			"which is bound to this instance and its node name.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			ans, err := o.run(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "joined as node %s (instance %s); bootstrap kubeconfig %s valid until %s\n",
				ans.NodeName, ans.InstanceID, o.out, ans.Expires.Format(time.RFC3339))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "kelp's join endpoint, https://<host>[:port] (required)")
	f.StringVar(&o.endpointCA, "endpoint-ca", "", "PEM file of the CA the join endpoint's certificate chains to (default: system roots)")
	f.StringVar(&o.stsEndpoint, "sts-endpoint", "", "the STS endpoint kelp verifies with (default https://sts.<region>.amazonaws.com)")
	f.StringVar(&o.imdsAddress, "imds-endpoint", "", "instance metadata service address (default AWS's)")
	f.StringVar(&o.server, "server", "", "the API server's URL written into the kubeconfig (required)")
	f.StringVar(&o.serverCA, "server-ca", "", "PEM file of the API server's CA (required)")
	f.StringVar(&o.nodeName, "node-name", "", "node name to join as (default the instance's private DNS name)")
	f.StringVar(&o.out, "bootstrap-kubeconfig", "/var/lib/kubelet/bootstrap-kubeconfig", "where to write the bootstrap kubeconfig")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func (o joinOptions) validate() error {
	var errs []string
	for flag, v := range map[string]string{"endpoint": o.endpoint, "server": o.server, "server-ca": o.serverCA} {
		if v == "" {
			errs = append(errs, "--"+flag+" is required")
		}
	}
	if o.endpoint != "" && !strings.HasPrefix(o.endpoint, "https://") {
		errs = append(errs, flagError("endpoint", o.endpoint, "must be an https URL").Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("kelp join: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (o joinOptions) run(ctx context.Context) (join.Answer, error) {
	if err := o.validate(); err != nil {
		return join.Answer{}, err
	}
	caPEM, err := os.ReadFile(o.serverCA)
	if err != nil {
		return join.Answer{}, fmt.Errorf("read --server-ca: %w", err)
	}
	httpClient, err := endpointClient(o.endpointCA)
	if err != nil {
		return join.Answer{}, err
	}
	md, err := awsadapter.ReadInstanceMetadata(ctx, o.imdsAddress)
	if err != nil {
		return join.Answer{}, err
	}
	sts := o.stsEndpoint
	if sts == "" {
		sts = "https://sts." + md.Region + ".amazonaws.com"
	}
	node := o.nodeName
	if node == "" {
		node = md.Hostname
	}
	c := &join.Client{Endpoint: o.endpoint, HTTP: httpClient, STSEndpoint: sts,
		Sign: func(ctx context.Context, url string, h http.Header) (http.Header, error) {
			return awsadapter.SignCallerIdentity(ctx, md.Credentials, md.Region, url, h, time.Now())
		}}
	ans, err := c.Join(ctx, join.Request{NodeName: node})
	if err != nil {
		return join.Answer{}, err
	}
	id, secret, _ := strings.Cut(ans.Token, ".")
	kubeconfig, err := bootstrap.BootstrapKubeconfig(o.server, caPEM, bootstrap.Token{ID: id, Secret: secret})
	if err != nil {
		return join.Answer{}, fmt.Errorf("join answer: %w", err)
	}
	if err := writeFileAtomic(o.out, kubeconfig, 0o600); err != nil {
		return join.Answer{}, err
	}
	return ans, nil
}

// endpointClient trusts the CA in caFile, or the system roots when "".
func endpointClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read --endpoint-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, flagError("endpoint-ca", caFile, "holds no PEM certificate")
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// writeFileAtomic writes data to path (mode perm) through a temporary file
// renamed into place, so the kubelet never reads half a kubeconfig.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup() // no-op after the rename
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
