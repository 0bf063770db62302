package pool

import (
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Config lists the pools a cluster should have (examples/cluster.yaml).
type Config struct {
	// Join is the join of every pool without a `join:` block of its own.
	Join  *Join  `json:"join,omitempty"`
	Pools []Spec `json:"pools"`
}

// ParseConfig parses a pools file strictly (unknown fields are errors),
// gives the cluster-level join to the pools without their own, and
// validates every pool, reporting all problems at once.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse pools: %w", err)
	}
	var errs []error
	if c.Join != nil {
		if err := c.Join.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("cluster-level %w", err))
		}
		for i := range c.Pools {
			if c.Pools[i].Join == (Join{}) {
				c.Pools[i].Join = *c.Join
			}
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Pools {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("pools[%d]: %w", i, err))
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("pools[%d]: name %q is used twice", i, p.Name))
		}
		seen[p.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid pools: %w", err)
	}
	return c, nil
}

// LoadConfig reads and parses a pools file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read pools file: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
