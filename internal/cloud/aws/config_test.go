package aws

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestConfigValidate(t *testing.T) {
	good := Config{ClusterName: "dev"}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings, each naming a field
	}{
		{"valid defaults", func(*Config) {}, nil},
		{"valid everything", func(c *Config) {
			c.GroupNames = []string{"a", "b"}
			c.AutoDiscovery = []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/dev"}
			c.Region, c.Endpoint, c.CallTimeout = "eu-west-3", "http://127.0.0.1:4566", time.Second
		}, nil},
		{"no cluster", func(c *Config) { c.ClusterName = "" }, []string{"ClusterName: required"}},
		{"bad cluster", func(c *Config) { c.ClusterName = "my cluster" }, []string{`ClusterName: "my cluster"`}},
		{"empty group name", func(c *Config) { c.GroupNames = []string{"a", " "} }, []string{"GroupNames[1]"}},
		{"duplicate group name", func(c *Config) { c.GroupNames = []string{"a", "a"} }, []string{`GroupNames[1]: "a" is listed twice`}},
		{"bad spec", func(c *Config) { c.AutoDiscovery = []string{"asg:tag=a", "mig:foo"} }, []string{"AutoDiscovery[1]"}},
		{"bad region", func(c *Config) { c.Region = "Mars" }, []string{`Region: "Mars"`}},
		{"bad endpoint", func(c *Config) { c.Endpoint = "localhost:4566" }, []string{`Endpoint: "localhost:4566"`}},
		{"negative durations", func(c *Config) { c.CallTimeout, c.InstanceCacheTTL = -time.Second, -time.Minute },
			[]string{"CallTimeout: -1s is negative", "InstanceCacheTTL: -1m0s is negative"}},
		{"bad retries", func(c *Config) { c.Retry.MaxAttempts, c.Retry.ThrottleRetries = -1, -2 },
			[]string{"Retry.MaxAttempts", "Retry.ThrottleRetries"}},
		{"every problem at once", func(c *Config) { c.ClusterName, c.Region, c.Endpoint = "", "x", "ftp://h" },
			[]string{"ClusterName", "Region", "Endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.WithDefaults().Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want...)
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(context.Background(), Config{AutoDiscovery: []string{"asg:name=x"}}, Deps{})
	testenv.ErrorContains(t, err, "ClusterName", "AutoDiscovery[0]")
}

func TestWithDefaults(t *testing.T) {
	c := Config{ClusterName: "dev", Retry: RetryConfig{ThrottleRetries: -1}}.WithDefaults()
	if c.CallTimeout != DefaultCallTimeout || c.InstanceCacheTTL != DefaultInstanceCacheTTL ||
		c.Retry.MaxAttempts != DefaultMaxAttempts || c.Retry.ThrottleRetries != 0 {
		t.Errorf("WithDefaults = %+v", c)
	}
}

func TestParseDiscoverySpec(t *testing.T) {
	tests := []struct {
		spec    string
		want    []TagMatch
		wantErr string
	}{
		{spec: "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/dev",
			want: []TagMatch{{Key: "k8s.io/cluster-autoscaler/enabled"}, {Key: "k8s.io/cluster-autoscaler/dev"}}},
		{spec: "asg:tag=kubernetes.io/cluster/dev=owned,kelp.dev/pool",
			want: []TagMatch{{Key: "kubernetes.io/cluster/dev", Value: "owned", HasValue: true}, {Key: "kelp.dev/pool"}}},
		{spec: "asg:tag=team=",
			want: []TagMatch{{Key: "team", HasValue: true}}},
		{spec: "asg:tag=k=a=b",
			want: []TagMatch{{Key: "k", Value: "a=b", HasValue: true}}},
		{spec: "", wantErr: "want asg:tag="},
		{spec: "mig:tag=x", wantErr: "want asg:tag="},
		{spec: "asg:name=x", wantErr: `unsupported filter "name"`},
		{spec: "asg:tag", wantErr: `unsupported filter "tag"`},
		{spec: "asg:tag=", wantErr: "tag 1: empty key"},
		{spec: "asg:tag=a,,b", wantErr: "tag 2: empty key"},
		{spec: "asg:tag=a,a=1", wantErr: `tag "a" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseDiscoverySpec(tt.spec)
			if tt.wantErr != "" {
				testenv.ErrorContains(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Tags, tt.want) {
				t.Errorf("tags = %+v, want %+v", got.Tags, tt.want)
			}
			if again, err := ParseDiscoverySpec(got.String()); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("String %q does not parse back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestDiscoverySpecMatches(t *testing.T) {
	spec := DefaultDiscovery("dev")
	tests := []struct {
		tags map[string]string
		want bool
	}{
		{map[string]string{"kubernetes.io/cluster/dev": "owned", "kelp.dev/pool": "general"}, true},
		{map[string]string{"kubernetes.io/cluster/dev": "shared", "kelp.dev/pool": "general"}, false},
		{map[string]string{"kubernetes.io/cluster/prod": "owned", "kelp.dev/pool": "general"}, false},
		{map[string]string{"kubernetes.io/cluster/dev": "owned"}, false},
	}
	for _, tt := range tests {
		if got := spec.Matches(tt.tags); got != tt.want {
			t.Errorf("Matches(%v) = %v, want %v", tt.tags, got, tt.want)
		}
	}
	if (DiscoverySpec{}).Matches(map[string]string{"a": "b"}) {
		t.Error("an empty spec matches everything")
	}
}
