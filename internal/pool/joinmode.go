package pool

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// JoinTag records a pool's join mode on its group (propagated to its
// instances) and its launch template, so that other code (token rotation,
// the join endpoint, the approver) can tell an identity pool without
// reading its user-data. A pool without the tag (made before kelp had
// join modes) joins with a token.
const JoinTag = "kelp.dev/join"

// JoinMode is how a pool's instances join the cluster.
type JoinMode string

// Join modes.
const (
	// JoinModeToken: the user-data carries a bootstrap token bound to the
	// pool, rotated by the controller (the default; the only mode of
	// openshift-3.11 images, which cannot run `kelp join`).
	JoinModeToken JoinMode = "token"
	// JoinModeIdentity: the user-data carries no secret; the instance
	// proves who it is with its instance role (`kelp join`) and gets a
	// token bound to that one instance. Needs an instance profile.
	JoinModeIdentity JoinMode = "identity"
)

// JoinModes returns the join modes, for flag help.
func JoinModes() []JoinMode { return []JoinMode{JoinModeToken, JoinModeIdentity} }

// OrDefault returns m, or JoinModeToken when m is empty.
func (m JoinMode) OrDefault() JoinMode {
	if m == "" {
		return JoinModeToken
	}
	return m
}

// Join is how a pool's instances join (the `join:` block of a pools file).
type Join struct {
	// Mode is token (default) or identity.
	Mode JoinMode `json:"mode,omitempty"`
	// Endpoint is kelp's join endpoint, https://<host>[:port], and
	// EndpointCAFile the PEM file its certificate chains to: identity mode
	// only. Empty lets the caller fill them in (kelp up knows its own
	// controller's); on AWS they are required where the user-data is
	// rendered.
	Endpoint       string `json:"endpoint,omitempty"`
	EndpointCAFile string `json:"endpointCAFile,omitempty"`
}

// Validate returns every problem with j, each naming its field.
func (j Join) Validate() error {
	var errs []error
	switch j.Mode {
	case "", JoinModeToken:
		if j.Endpoint != "" || j.EndpointCAFile != "" {
			errs = append(errs, errors.New("join: endpoint and endpointCAFile are for mode identity only"))
		}
	case JoinModeIdentity:
		if j.Endpoint != "" {
			if u, err := url.Parse(j.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
				errs = append(errs, fmt.Errorf("join.endpoint %q: want https://<host>[:port]", j.Endpoint))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("join.mode %q: want token or identity", j.Mode))
	}
	return errors.Join(errs...)
}

var (
	// instanceProfileNameRE is IAM's instance profile name: 1-128 of
	// [\w+=,.@-].
	instanceProfileNameRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,128}$`)
	// instanceProfileARNRE is an instance profile ARN, with an optional
	// path, in any partition.
	instanceProfileARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/([\x21-\x7e]+/)?[A-Za-z0-9_+=,.@-]{1,128}$`)
)

// CheckInstanceProfile accepts an IAM instance profile name or ARN, as a
// launch template's IamInstanceProfile takes it (an ARN becomes its Arn,
// a name its Name), or nothing.
func CheckInstanceProfile(v string) error {
	if v == "" || instanceProfileNameRE.MatchString(v) || instanceProfileARNRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("instanceProfile %q: want an instance profile name (1-128 of letters, digits and +=,.@_-) "+
		"or its ARN, arn:aws:iam::<account>:instance-profile/[<path>/]<name>", v)
}

// validateJoin checks the spec's instance profile and join.
func (s Spec) validateJoin() []error {
	var errs []error
	if err := CheckInstanceProfile(s.InstanceProfile); err != nil {
		errs = append(errs, fmt.Errorf("pool %s: %w", s.Name, err))
	}
	if err := s.Join.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("pool %s: %w", s.Name, err))
	}
	return errs
}

// checkIdentityProfile refuses an identity pool without an instance
// profile. It is not part of Validate: a pools file may leave the profile
// to its caller (kelp up gives its own); Create checks it.
func (s Spec) checkIdentityProfile() error {
	if s.Join.Mode == JoinModeIdentity && s.InstanceProfile == "" {
		return fmt.Errorf("pool %s: join mode identity needs instanceProfile: the instance proves who it is with its instance role", s.Name)
	}
	return nil
}
