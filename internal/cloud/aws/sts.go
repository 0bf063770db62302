package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// getCallerIdentityBody is the body of an sts:GetCallerIdentity POST.
const getCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"

// SignCallerIdentity returns every header of a SigV4-signed
// sts:GetCallerIdentity POST to stsURL (the Query body
// Action=GetCallerIdentity&Version=2011-06-15) for region, signed at now
// with creds; header's own headers (an identity join's nonce and request
// hash) are signed too. Host and Content-Length, which are signed, are not
// in the result: they follow from the URL and the body. It sends nothing.
func SignCallerIdentity(ctx context.Context, creds aws.Credentials, region, stsURL string, header http.Header, now time.Time) (http.Header, error) {
	if region == "" {
		return nil, fmt.Errorf("sign GetCallerIdentity: region must not be empty")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, stsURL, strings.NewReader(getCallerIdentityBody))
	if err != nil {
		return nil, fmt.Errorf("sign GetCallerIdentity: %w", err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	sum := sha256.Sum256([]byte(getCallerIdentityBody))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", region, now.UTC()); err != nil {
		return nil, fmt.Errorf("sign GetCallerIdentity: %w", err)
	}
	return req.Header, nil
}

// InstanceMetadata is what an instance reads about itself to join.
type InstanceMetadata struct {
	// Credentials are the instance role's current credentials.
	Credentials aws.Credentials
	Region      string
	// Hostname is the instance's private DNS name (local-hostname).
	Hostname string
}

// MetadataOptions say how to reach the instance metadata service.
type MetadataOptions struct {
	// Endpoint overrides the metadata service's address (the local
	// cloud's); "" is AWS's.
	Endpoint string
	// LocalAddr, when valid, is the source address of the connections:
	// the instance's own private IP. The local cloud's metadata service
	// knows its caller by that address, as EC2's knows the instance by its
	// network interface; on EC2 leave it unset.
	LocalAddr netip.Addr
}

// ReadInstanceMetadata reads the instance's region, private DNS name and
// its role's current credentials from the instance metadata service,
// IMDSv2 only (a session token first, then
// iam/security-credentials/<role>).
func ReadInstanceMetadata(ctx context.Context, o MetadataOptions) (InstanceMetadata, error) {
	opts := imds.Options{Endpoint: o.Endpoint, ClientEnableState: imds.ClientEnabled, EnableFallback: aws.FalseTernary}
	if o.LocalAddr.IsValid() {
		local := &net.TCPAddr{IP: o.LocalAddr.AsSlice()}
		opts.HTTPClient = awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) { d.LocalAddr = local })
	}
	client := imds.New(opts)
	region, err := client.GetRegion(ctx, &imds.GetRegionInput{})
	if err != nil {
		return InstanceMetadata{}, fmt.Errorf("read region from instance metadata: %w", err)
	}
	host, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: "local-hostname"})
	if err != nil {
		return InstanceMetadata{}, fmt.Errorf("read local-hostname from instance metadata: %w", err)
	}
	defer host.Content.Close()
	name, err := io.ReadAll(io.LimitReader(host.Content, 1024))
	if err != nil {
		return InstanceMetadata{}, fmt.Errorf("read local-hostname from instance metadata: %w", err)
	}
	creds, err := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(ctx)
	if err != nil {
		return InstanceMetadata{}, fmt.Errorf("read instance role credentials from instance metadata: %w", err)
	}
	return InstanceMetadata{Credentials: creds, Region: region.Region, Hostname: strings.TrimSpace(string(name))}, nil
}

// SignCallerIdentity signs an sts:GetCallerIdentity POST to stsURL with
// the instance's credentials and region, now: a join.SignFunc.
func (m InstanceMetadata) SignCallerIdentity(ctx context.Context, stsURL string, header http.Header) (http.Header, error) {
	return SignCallerIdentity(ctx, m.Credentials, m.Region, stsURL, header, time.Now())
}
