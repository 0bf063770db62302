package localcloud

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/localcloud/iampolicy"
)

// principalsFile is the file LoadPrincipals reads (YAML or JSON):
//
//	principals:
//	- name: operator                    # user name; ARN arn:aws:iam::000000000000:user/operator
//	  accessKeyID: AKIAOPERATOR00000000
//	  secretAccessKey: operator-secret
//	  policies: [operator.json]         # policy documents, relative to this file
//	  replace: {CLUSTER: local, REGION: us-east-1, ACCOUNT: "000000000000"}
//	roles:                              # read by LoadRoles
//	- name: kelp-node                   # ARN arn:aws:iam::000000000000:role/kelp-node
//	  policies: [node.json]             # none: the role may do nothing
//	instanceProfiles:
//	- name: kelp-node
//	  role: kelp-node
type principalsFile struct {
	Principals       []principalEntry `json:"principals"`
	Roles            []roleEntry      `json:"roles,omitempty"`
	InstanceProfiles []profileEntry   `json:"instanceProfiles,omitempty"`
}

type roleEntry struct {
	Name     string            `json:"name"`
	Policies []string          `json:"policies,omitempty"`
	Replace  map[string]string `json:"replace,omitempty"`
}

type profileEntry struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// LoadRoles reads the roles and instance profiles of a principals file
// (see [LoadPrincipals]) for Options.Roles and Options.InstanceProfiles.
// A role's sessions may do what its policies allow (none: nothing).
// Every mistake is reported at once; Open checks names and references.
func LoadRoles(path string) ([]Role, []InstanceProfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read roles: %w", err)
	}
	var f principalsFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, nil, fmt.Errorf("roles %s: %w", path, err)
	}
	var roles []Role
	var errs []error
	for i, e := range f.Roles {
		policies := Policies{}
		for _, name := range e.Policies {
			if !filepath.IsAbs(name) {
				name = filepath.Join(filepath.Dir(path), name)
			}
			p, err := readPolicy(name, e.Replace)
			if err != nil {
				errs = append(errs, fmt.Errorf("role %d (%s): %w", i+1, e.Name, err))
				continue
			}
			policies = append(policies, p)
		}
		roles = append(roles, Role{Name: e.Name, Authorizer: policies})
	}
	profiles := make([]InstanceProfile, 0, len(f.InstanceProfiles))
	for _, e := range f.InstanceProfiles {
		profiles = append(profiles, InstanceProfile(e))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("roles %s: %w", path, err)
	}
	return roles, profiles, nil
}

type principalEntry struct {
	Name            string            `json:"name"`
	ARN             string            `json:"arn,omitempty"`
	AccessKeyID     string            `json:"accessKeyID"`
	SecretAccessKey string            `json:"secretAccessKey"`
	Policies        []string          `json:"policies"`
	Replace         map[string]string `json:"replace,omitempty"`
}

// LoadPrincipals reads a principals file: callers, their keys and the IAM
// policy documents that say what each may do (see [Policies]). Each
// policy's text has every key of the entry's replace map replaced by its
// value first (the placeholders CLUSTER, REGION, ACCOUNT of published
// policies). Every mistake is reported at once.
func LoadPrincipals(path string) ([]Principal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read principals: %w", err)
	}
	var f principalsFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("principals %s: %w", path, err)
	}
	var out []Principal
	var errs []error
	keys := map[string]bool{AccessKeyID: true}
	for i, e := range f.Principals {
		p, err := e.principal(filepath.Dir(path))
		if err == nil && keys[p.AccessKeyID] {
			err = fmt.Errorf("accessKeyID %s is already taken", p.AccessKeyID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("principal %d (%s): %w", i+1, e.Name, err))
			continue
		}
		keys[p.AccessKeyID] = true
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("principals %s: %w", path, err)
	}
	return out, nil
}

func (e principalEntry) principal(dir string) (Principal, error) {
	var errs []error
	if e.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if e.AccessKeyID == "" || e.SecretAccessKey == "" {
		errs = append(errs, errors.New("accessKeyID and secretAccessKey are required"))
	}
	if len(e.Policies) == 0 {
		errs = append(errs, errors.New("policies: at least one policy document is required (a principal without one may do nothing)"))
	}
	var policies Policies
	for _, name := range e.Policies {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		p, err := readPolicy(path, e.Replace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		policies = append(policies, p)
	}
	arn := e.ARN
	if arn == "" {
		arn = "arn:aws:iam::" + AccountID + ":user/" + e.Name
	}
	return Principal{Name: e.Name, ARN: arn, AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey,
		Authorizer: policies}, errors.Join(errs...)
}

func readPolicy(path string, replace map[string]string) (*iampolicy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return ParsePolicy(path, string(data), replace)
}

// ParsePolicy parses a policy document after replacing each key of replace
// in its text with the key's value.
func ParsePolicy(name, text string, replace map[string]string) (*iampolicy.Policy, error) {
	pairs := make([]string, 0, 2*len(replace))
	for k, v := range replace {
		pairs = append(pairs, k, v)
	}
	return iampolicy.Parse(name, []byte(strings.NewReplacer(pairs...).Replace(text)))
}
