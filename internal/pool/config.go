package pool

import (
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Config lists the pools a cluster should have (examples/cluster.yaml).
type Config struct {
	Pools []Spec `json:"pools"`
}

// ParseConfig parses a pools file strictly (unknown fields are errors) and
// validates every pool, reporting all problems at once.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse pools: %w", err)
	}
	var errs []error
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
