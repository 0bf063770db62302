package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// SDKOptions say where and as whom LoadSDKConfig reaches AWS. Zero fields
// leave the SDK's default chain to decide.
type SDKOptions struct {
	// Region; default from AWS_REGION or the shared config.
	Region string
	// Endpoint overrides every service's endpoint (the local cloud's URL);
	// the SDK also honours AWS_ENDPOINT_URL.
	Endpoint string
	// Credentials replace the default chain (the local cloud's static keys).
	Credentials sdkaws.CredentialsProvider
	// Profile is the shared config profile; default AWS_PROFILE or "default".
	Profile string
	// HTTPClient replaces the SDK's HTTP client.
	HTTPClient sdkaws.HTTPClient
	// Retry tunes the SDK's standard retryer (MaxAttempts, MaxBackoff);
	// zero fields are defaulted as in Config.
	Retry RetryConfig
}

// LoadSDKConfig is kelp's one SDK config loader: the SDK's default chain
// with o applied and kelp's retry policy for the SDK's own retries. Kelp's
// further throttle rounds come from calling through a [Provider]. The
// region may be empty when neither o nor the chain gives one; callers
// that need one say so.
func LoadSDKConfig(ctx context.Context, o SDKOptions) (sdkaws.Config, error) {
	r := Config{Retry: o.Retry}.WithDefaults().Retry
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() sdkaws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts, so.MaxBackoff = r.MaxAttempts, r.MaxBackoff
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("load aws sdk config: %w", err)
	}
	return cfg, nil
}
