package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	awsadapter "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/instancejoin"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/userdata"
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
			"which is bound to this instance and its node name. Transient failures (the endpoint or the metadata\n" +
			"service not answering, 5xx, 429) are retried with capped, jittered exponential backoff until --timeout;\n" +
			"a refusal is final and printed with its reason.",
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
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up retrying after this long")
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
	var endpointCA []byte
	if o.endpointCA != "" {
		if endpointCA, err = os.ReadFile(o.endpointCA); err != nil {
			return join.Answer{}, fmt.Errorf("read --endpoint-ca: %w", err)
		}
	}
	cfg := instancejoin.Config{
		Join: userdata.IdentityJoin{Endpoint: o.endpoint, EndpointCA: endpointCA, Server: o.server, ServerCA: caPEM,
			STSEndpoint: o.stsEndpoint, MetadataEndpoint: o.imdsAddress},
		NodeName: o.nodeName, BootstrapKubeconfig: o.out,
	}
	return instancejoin.Run(ctx, cfg, instancejoin.Deps{Metadata: instanceMetadata(o.imdsAddress, netip.Addr{})})
}

// instanceMetadata reads the instance's metadata through the AWS adapter,
// from the metadata service at endpoint ("" is EC2's), connecting from
// local when valid (a local cloud's instance address).
func instanceMetadata(endpoint string, local netip.Addr) instancejoin.MetadataReader {
	return func(ctx context.Context) (instancejoin.Metadata, error) {
		md, err := awsadapter.ReadInstanceMetadata(ctx, awsadapter.MetadataOptions{Endpoint: endpoint, LocalAddr: local})
		if err != nil {
			return instancejoin.Metadata{}, err
		}
		return instancejoin.Metadata{Region: md.Region, Hostname: md.Hostname, Sign: md.SignCallerIdentity}, nil
	}
}
