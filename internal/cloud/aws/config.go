package aws

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// Defaults of Config.
const (
	DefaultCallTimeout      = 30 * time.Second
	DefaultInstanceCacheTTL = 30 * time.Second
	DefaultSpotPriceTTL     = time.Hour
	DefaultActivityLookback = 10 * time.Minute
	DefaultMaxAttempts      = 5
	DefaultMaxBackoff       = 20 * time.Second
	DefaultThrottleRetries  = cloud.DefaultThrottleRounds
	DefaultThrottleBackoff  = cloud.DefaultThrottleBackoff
)

// Config configures the provider. The zero value of every field but
// ClusterName means its default; New applies the defaults and validates once.
type Config struct {
	// ClusterName drives the tags kelp reads: kubernetes.io/cluster/<name>
	// for the default discovery. Required.
	ClusterName string
	// GroupNames are Auto Scaling groups to manage, by name.
	GroupNames []string
	// GroupBounds are kelp's own bounds of some of GroupNames, within the
	// groups' own (cluster-autoscaler's --nodes=MIN:MAX:NAME; GroupBounds).
	GroupBounds map[string]GroupBounds
	// AutoDiscovery are cluster-autoscaler --node-group-auto-discovery
	// specs: asg:tag=<key>[=<value>],<key>[=<value>]... A group matching any
	// spec (all of its tags) is managed.
	AutoDiscovery []string
	// Region; default from the SDK's chain (AWS_REGION, shared config).
	Region string
	// Endpoint overrides the Auto Scaling and EC2 endpoints (the local
	// cloud's URL); the SDK also honours AWS_ENDPOINT_URL.
	Endpoint string
	// CallTimeout bounds every API call, retries included; default
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// InstanceCacheTTL is how long an instance lookup is served from the
	// cache; default DefaultInstanceCacheTTL.
	InstanceCacheTTL time.Duration
	// SpotPriceTTL is how long spot prices are cached; default
	// DefaultSpotPriceTTL.
	SpotPriceTTL time.Duration
	// ActivityLookback is how far back the first Refresh looks for failed
	// scaling activities, and how long each Refresh reports a failed launch
	// after first seeing it; default DefaultActivityLookback.
	ActivityLookback time.Duration
	// Retry tunes the retries.
	Retry RetryConfig
}

// RetryConfig tunes retries: the SDK's standard retryer first, then, when
// it gives up on throttling, kelp's own jittered backoff.
type RetryConfig struct {
	// MaxAttempts per call in the SDK's retryer; default DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff between the SDK's attempts; default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// ThrottleRetries are further rounds of MaxAttempts after a call stayed
	// throttled; default DefaultThrottleRetries. -1 means none.
	ThrottleRetries int
	// ThrottleBackoff is the base of the exponential, jittered wait before
	// such a round; default DefaultThrottleBackoff.
	ThrottleBackoff time.Duration
}

// WithDefaults returns c with every unset field defaulted.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.InstanceCacheTTL, DefaultInstanceCacheTTL)
	def(&c.SpotPriceTTL, DefaultSpotPriceTTL)
	def(&c.ActivityLookback, DefaultActivityLookback)
	def(&c.Retry.MaxBackoff, DefaultMaxBackoff)
	def(&c.Retry.ThrottleBackoff, DefaultThrottleBackoff)
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = DefaultMaxAttempts
	}
	switch c.Retry.ThrottleRetries {
	case 0:
		c.Retry.ThrottleRetries = DefaultThrottleRetries
	case -1:
		c.Retry.ThrottleRetries = 0
	}
	return c
}

var (
	clusterNamePattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$`)
	regionPattern      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Validate returns every problem of c at once, each naming its field.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate checks c and returns its discovery specs: the parsed
// AutoDiscovery ones, or kelp's default when c names no groups at all.
func (c Config) validate() ([]DiscoverySpec, error) {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.ClusterName == "":
		add("ClusterName", "required")
	case !clusterNamePattern.MatchString(c.ClusterName):
		add("ClusterName", "%q: want 1-100 letters, digits, '-' or '_', starting with a letter or digit", c.ClusterName)
	}
	for i, n := range c.GroupNames {
		switch {
		case strings.TrimSpace(n) == "" || len(n) > 255:
			add(fmt.Sprintf("GroupNames[%d]", i), "%q: want 1-255 characters", n)
		case slices.Index(c.GroupNames, n) < i:
			add(fmt.Sprintf("GroupNames[%d]", i), "%q is listed twice", n)
		}
	}
	errs = append(errs, validateBounds(c)...)
	var specs []DiscoverySpec
	for i, s := range c.AutoDiscovery {
		spec, err := ParseDiscoverySpec(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("AutoDiscovery[%d]: %w", i, err))
			continue
		}
		specs = append(specs, spec)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		add("Region", "%q is not a region name like us-east-1", c.Region)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("Endpoint", "%q: want an absolute http or https URL", c.Endpoint)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"CallTimeout", c.CallTimeout}, {"InstanceCacheTTL", c.InstanceCacheTTL}, {"SpotPriceTTL", c.SpotPriceTTL},
		{"ActivityLookback", c.ActivityLookback}, {"Retry.MaxBackoff", c.Retry.MaxBackoff},
		{"Retry.ThrottleBackoff", c.Retry.ThrottleBackoff},
	} {
		if d.v < 0 {
			add(d.field, "%s is negative", d.v)
		}
	}
	if c.Retry.MaxAttempts < 0 {
		add("Retry.MaxAttempts", "%d is negative", c.Retry.MaxAttempts)
	}
	if c.Retry.ThrottleRetries < -1 {
		add("Retry.ThrottleRetries", "%d: want -1 (none), 0 (default) or more", c.Retry.ThrottleRetries)
	}
	if len(c.GroupNames) == 0 && len(c.AutoDiscovery) == 0 && c.ClusterName != "" {
		specs = append(specs, DefaultDiscovery(c.ClusterName))
	}
	return specs, errors.Join(errs...)
}

// DiscoverySpec selects Auto Scaling groups by their tags: a group matches
// when it has every tag (with the value, when one is given).
type DiscoverySpec struct {
	Tags []TagMatch
}

// TagMatch is one tag of a DiscoverySpec. An empty Value matches any value
// unless HasValue is set.
type TagMatch struct {
	Key      string
	Value    string
	HasValue bool
}

// DefaultDiscovery is kelp's own discovery: the groups owned by the cluster
// (kubernetes.io/cluster/<cluster>=owned) that are kelp pools (kelp.dev/pool).
func DefaultDiscovery(cluster string) DiscoverySpec {
	return DiscoverySpec{Tags: []TagMatch{
		{Key: pool.ClusterTagPrefix + cluster, Value: "owned", HasValue: true},
		{Key: pool.PoolTag},
	}}
}

// ParseDiscoverySpec parses a cluster-autoscaler auto-discovery spec:
// asg:tag=<key>[=<value>],<key>[=<value>]...
func ParseDiscoverySpec(s string) (DiscoverySpec, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || kind != "asg" {
		return DiscoverySpec{}, fmt.Errorf("discovery spec %q: want asg:tag=<key>[=<value>][,<key>[=<value>]]", s)
	}
	key, list, ok := strings.Cut(rest, "=")
	if !ok || key != "tag" {
		return DiscoverySpec{}, fmt.Errorf("discovery spec %q: unsupported filter %q: want tag=<key>[=<value>][,<key>[=<value>]]", s, key)
	}
	var spec DiscoverySpec
	for i, item := range strings.Split(list, ",") {
		k, v, hasValue := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		switch {
		case k == "":
			return DiscoverySpec{}, fmt.Errorf("discovery spec %q: tag %d: empty key", s, i+1)
		case slices.ContainsFunc(spec.Tags, func(t TagMatch) bool { return t.Key == k }):
			return DiscoverySpec{}, fmt.Errorf("discovery spec %q: tag %q is given twice", s, k)
		}
		spec.Tags = append(spec.Tags, TagMatch{Key: k, Value: v, HasValue: hasValue})
	}
	return spec, nil
}

// String renders the spec as ParseDiscoverySpec reads it.
func (s DiscoverySpec) String() string {
	parts := make([]string, len(s.Tags))
	for i, t := range s.Tags {
		parts[i] = t.Key
		if t.HasValue {
			parts[i] += "=" + t.Value
		}
	}
	return "asg:tag=" + strings.Join(parts, ",")
}

// Matches reports whether a group with the tags matches the spec.
func (s DiscoverySpec) Matches(tags map[string]string) bool {
	for _, t := range s.Tags {
		v, ok := tags[t.Key]
		if !ok || (t.HasValue && v != t.Value) {
			return false
		}
	}
	return len(s.Tags) > 0
}

// filters are DescribeAutoScalingGroups filters that select a superset of
// the spec's groups (Matches decides): tag:<key>=<value> for each valued
// tag, one tag-key filter with every other key (values of one filter are
// ORed, so it only narrows the search).
func (s DiscoverySpec) filters() []astypes.Filter {
	var out []astypes.Filter
	var keys []string
	for _, t := range s.Tags {
		if t.HasValue {
			out = append(out, astypes.Filter{Name: sdkaws.String("tag:" + t.Key), Values: []string{t.Value}})
		} else {
			keys = append(keys, t.Key)
		}
	}
	if len(keys) > 0 {
		out = append(out, astypes.Filter{Name: sdkaws.String("tag-key"), Values: keys})
	}
	return out
}
