package userdata

import (
	"fmt"
	"net/url"

	"k8s.io/apimachinery/pkg/util/validation/field"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/yaml"
)

// IdentityJoin is what an identity-mode pool's user-data carries instead
// of a bootstrap kubeconfig: where kelp's join endpoint is and how to
// trust it, and where the API server is and how to trust it. None of it
// is a secret: the instance proves who it is with its instance role
// (`kelp join`), and kelp answers with a token bound to that instance.
type IdentityJoin struct {
	// Endpoint is kelp's join endpoint, https://<host>[:port].
	Endpoint string `json:"endpoint"`
	// EndpointCA is the PEM bundle the endpoint's certificate chains to.
	EndpointCA []byte `json:"endpointCA"`
	// Server is the API server's URL for the bootstrap kubeconfig.
	Server string `json:"server"`
	// ServerCA is the PEM bundle of the API server's CA.
	ServerCA []byte `json:"serverCA"`
	// STSEndpoint is the STS endpoint kelp verifies proofs with; empty
	// means https://sts.<region>.amazonaws.com, the instance's region.
	STSEndpoint string `json:"stsEndpoint,omitempty"`
	// MetadataEndpoint is the instance metadata service's address; empty
	// means EC2's. Only local clouds set it.
	MetadataEndpoint string `json:"metadataEndpoint,omitempty"`
}

// Validate returns every problem with j, each naming its field under p.
func (j IdentityJoin) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateURL(p.Child("endpoint"), j.Endpoint, true, "https")...)
	errs = append(errs, validateURL(p.Child("server"), j.Server, true, "https")...)
	errs = append(errs, validateURL(p.Child("stsEndpoint"), j.STSEndpoint, false, "https", "http")...)
	errs = append(errs, validateURL(p.Child("metadataEndpoint"), j.MetadataEndpoint, false, "http")...)
	if len(j.EndpointCA) == 0 {
		errs = append(errs, field.Required(p.Child("endpointCA"), "the PEM bundle the join endpoint's certificate chains to"))
	} else if err := validatePEMCerts(j.EndpointCA); err != nil {
		errs = append(errs, field.Invalid(p.Child("endpointCA"), "<PEM>", err.Error()))
	}
	if len(j.ServerCA) == 0 {
		errs = append(errs, field.Required(p.Child("serverCA"), "the API server's CA bundle"))
	} else if err := validatePEMCerts(j.ServerCA); err != nil {
		errs = append(errs, field.Invalid(p.Child("serverCA"), "<PEM>", err.Error()))
	}
	return errs
}

// validateURL checks that v is an absolute URL with one of schemes and a
// host, and no user info, query or fragment; empty is an error only when
// required.
func validateURL(p *field.Path, v string, required bool, schemes ...string) field.ErrorList {
	if v == "" {
		if required {
			return field.ErrorList{field.Required(p, "")}
		}
		return nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, v, err.Error())}
	case u.Host == "":
		return field.ErrorList{field.Invalid(p, v, "must be an absolute URL with a host")}
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return field.ErrorList{field.Invalid(p, v, "must have no user info, query or fragment")}
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p.Child("scheme"), u.Scheme, schemes)}
}

// Files of an identity join in the local profile, read by `kelp node`.
const (
	// LocalJoinConfigPath holds a JoinConfig; present instead of
	// LocalBootstrapKubeconfigPath in identity mode.
	LocalJoinConfigPath = "/etc/kelp/join.yaml"
)

// JoinConfig's kind (apiVersion is NodeConfigAPIVersion).
const JoinConfigKind = "JoinConfig"

// JoinConfig is the local profile's identity-join document: the node
// agent runs the join (the code of `kelp join`) with it before TLS
// bootstrapping.
type JoinConfig struct {
	APIVersion   string `json:"apiVersion"`
	Kind         string `json:"kind"`
	IdentityJoin `json:",inline"`
}

// ParseJoinConfig parses and validates a JoinConfig; unknown fields are an
// error.
func ParseJoinConfig(data []byte) (JoinConfig, error) {
	var c JoinConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return JoinConfig{}, fmt.Errorf("parse join config: %w", err)
	}
	var errs field.ErrorList
	if c.APIVersion != NodeConfigAPIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), c.APIVersion, []string{NodeConfigAPIVersion}))
	}
	if c.Kind != JoinConfigKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), c.Kind, []string{JoinConfigKind}))
	}
	errs = append(errs, c.IdentityJoin.Validate(nil)...)
	if err := joinFieldErrors(errs); err != nil {
		return JoinConfig{}, fmt.Errorf("invalid join config: %w", err)
	}
	return c, nil
}

// validatePEMCerts checks data holds at least one PEM certificate and
// nothing else.
func validatePEMCerts(data []byte) error {
	if _, err := certutil.ParseCertsPEM(data); err != nil {
		return fmt.Errorf("must be PEM certificates: %w", err)
	}
	return nil
}
