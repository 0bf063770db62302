package userdata

import (
	"cmp"
	"encoding/json"
	"errors"
	"regexp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/clientcmd"
)

// Profile selects the node layout a document targets.
type Profile string

// Profiles kelp renders.
const (
	// ProfileKubeadm: a kubeadm-style node running the kubelet from systemd.
	ProfileKubeadm Profile = "kubeadm"
	// ProfileOpenShift311: the OpenShift 3.11 AWS bootstrap procedure.
	ProfileOpenShift311 Profile = "openshift-3.11"
	// ProfileLocal: kelp's simulated kubelet (`kelp node`) in the local cloud.
	ProfileLocal Profile = "local"
)

// Profiles returns every supported profile, for flag help.
func Profiles() []Profile {
	return []Profile{ProfileKubeadm, ProfileOpenShift311, ProfileLocal}
}

// PoolLabel is the node label every profile but openshift-3.11 sets to the
// pool name, so nodes can be mapped back to their pool.
const PoolLabel = "kelp.dev/pool"

// DefaultNodeConfigName is the OpenShift 3.11 node group ConfigMap used when
// Input.NodeConfigName is empty.
const DefaultNodeConfigName = "node-config-compute"

// Input is everything a document is rendered from.
type Input struct {
	Profile     Profile
	ClusterName string
	// Pool is the pool's name, a DNS-1123 label.
	Pool string
	// BootstrapKubeconfig is the kubeconfig the node bootstraps with (see
	// bootstrap.BootstrapKubeconfig). Its current cluster must embed the CA.
	// Required in token mode; must be empty when Identity is set.
	BootstrapKubeconfig []byte
	// Identity, when set, makes an identity-mode document: it carries no
	// secret, only where kelp's join endpoint and the API server are and
	// the CAs to trust them; the node runs `kelp join` (kubeadm) or the
	// node agent's join (local) to get a token bound to its instance. Not
	// supported by openshift-3.11.
	Identity *IdentityJoin
	// RegistryAuth is an optional docker config.json ({"auths": {...}}).
	// A credential: refused in identity mode, whose user-data carries no
	// secret (give the image or the instance role registry access).
	RegistryAuth []byte
	// Labels are set on the node by the kubelet. Keys NodeRestriction
	// forbids a node to set on itself are rejected. PoolLabel is added.
	// Not supported by openshift-3.11 (labels come from the node group).
	Labels map[string]string
	// Taints are registered by the kubelet. Not supported by
	// openshift-3.11.
	Taints []corev1.Taint
	// NodeConfigName is the openshift-3.11 node group ConfigMap;
	// DefaultNodeConfigName when empty. Ignored by other profiles.
	NodeConfigName string
	// Region is written as Zone in openshift-3.11's aws.conf (a region or
	// availability zone, as in the procedure). Ignored by other profiles.
	Region string
}

var (
	// regionRE accepts AWS regions and zones, e.g. us-east-1, us-east-1a,
	// us-west-2-lax-1a; it keeps aws.conf a one-line INI value.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+$`)
)

// Validate returns every problem with in, each naming its field, or nil.
func (in Input) Validate() error {
	var errs field.ErrorList
	if !slices.Contains(Profiles(), in.Profile) {
		errs = append(errs, field.NotSupported(field.NewPath("profile"), in.Profile, Profiles()))
	}
	errs = append(errs, validateName(field.NewPath("clusterName"), in.ClusterName, validation.IsDNS1123Subdomain)...)
	errs = append(errs, validateName(field.NewPath("pool"), in.Pool, validation.IsDNS1123Label)...)
	if in.Identity != nil {
		errs = append(errs, validateIdentity(in)...)
	} else {
		errs = append(errs, validateKubeconfig(field.NewPath("bootstrapKubeconfig"), in.BootstrapKubeconfig)...)
		errs = append(errs, validateRegistryAuth(field.NewPath("registryAuth"), in.RegistryAuth)...)
	}
	errs = append(errs, validateNodeLabels(field.NewPath("labels"), in.Labels, in.Pool)...)
	errs = append(errs, validateTaints(field.NewPath("taints"), in.Taints)...)
	if in.Profile == ProfileOpenShift311 {
		errs = append(errs, validateOpenShift(in)...)
	}
	return joinFieldErrors(errs)
}

// validateIdentity checks an identity-mode input: the join itself, and
// nothing secret beside it.
func validateIdentity(in Input) field.ErrorList {
	errs := in.Identity.Validate(field.NewPath("identity"))
	if len(in.BootstrapKubeconfig) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("bootstrapKubeconfig"),
			"an identity join carries no bootstrap kubeconfig: the instance gets a token bound to it from kelp's join endpoint"))
	}
	if len(in.RegistryAuth) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("registryAuth"),
			"registry credentials are a secret and identity-mode user-data carries none: "+
				"bake them into the image or let the instance role pull (e.g. ECR), or use the token join"))
	}
	if in.Profile == ProfileOpenShift311 {
		errs = append(errs, field.Forbidden(field.NewPath("identity"),
			"profile openshift-3.11 cannot run `kelp join`: its pools use the token join"))
	}
	return errs
}

// validateOpenShift checks the openshift-3.11 fields.
func validateOpenShift(in Input) field.ErrorList {
	var errs field.ErrorList
	if in.NodeConfigName != "" {
		errs = append(errs, validateName(field.NewPath("nodeConfigName"), in.NodeConfigName, validation.IsDNS1123Subdomain)...)
	}
	if in.Region == "" {
		errs = append(errs, field.Required(field.NewPath("region"), "openshift-3.11 writes it to aws.conf"))
	} else if !regionRE.MatchString(in.Region) {
		errs = append(errs, field.Invalid(field.NewPath("region"), in.Region, "must be an AWS region or zone, e.g. us-east-1 or us-east-1a"))
	}
	const why = "not supported by profile openshift-3.11: set them in the node group ConfigMap named by nodeConfigName"
	if len(in.Labels) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("labels"), why))
	}
	if len(in.Taints) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("taints"), why))
	}
	return errs
}

func validateName(p *field.Path, v string, check func(string) []string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	for _, msg := range check(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	return errs
}

// validateKubeconfig checks the kubeconfig parses and its current context
// names a cluster with a server and embedded CA data (a fresh instance has
// no CA file to point at) and an existing user.
func validateKubeconfig(p *field.Path, data []byte) field.ErrorList {
	if len(data) == 0 {
		return field.ErrorList{field.Required(p, "")}
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return field.ErrorList{field.Invalid(p, "<kubeconfig>", err.Error())}
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return field.ErrorList{field.Invalid(p.Child("current-context"), cfg.CurrentContext, "must name a context")}
	}
	var errs field.ErrorList
	cluster, ok := cfg.Clusters[ctx.Cluster]
	switch {
	case !ok:
		errs = append(errs, field.Invalid(p.Child("contexts").Key(cfg.CurrentContext).Child("cluster"), ctx.Cluster, "must name a cluster"))
	case cluster.Server == "":
		errs = append(errs, field.Required(p.Child("clusters").Key(ctx.Cluster).Child("server"), ""))
	case len(cluster.CertificateAuthorityData) == 0:
		errs = append(errs, field.Required(p.Child("clusters").Key(ctx.Cluster).Child("certificate-authority-data"),
			"a fresh instance has no CA file to refer to"))
	}
	if _, ok := cfg.AuthInfos[ctx.AuthInfo]; !ok {
		errs = append(errs, field.Invalid(p.Child("contexts").Key(cfg.CurrentContext).Child("user"), ctx.AuthInfo, "must name a user"))
	}
	return errs
}

// validateRegistryAuth checks data, when given, is a docker config.json
// with an "auths" object of objects.
func validateRegistryAuth(p *field.Path, data []byte) field.ErrorList {
	if len(data) == 0 {
		return nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return field.ErrorList{field.Invalid(p, "<docker config.json>", "must be a JSON object: "+err.Error())}
	}
	raw, ok := doc["auths"]
	if !ok {
		return field.ErrorList{field.Required(p.Child("auths"), `a docker config.json needs {"auths": {...}}`)}
	}
	var auths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &auths); err != nil || auths == nil {
		return field.ErrorList{field.Invalid(p.Child("auths"), "<value>", "must be an object mapping registries to objects")}
	}
	return nil
}

// joinFieldErrors returns errors.Join of errs, or nil.
func joinFieldErrors(errs field.ErrorList) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, e)
	}
	return errors.Join(out...)
}

// nodeConfigName returns in.NodeConfigName or its default.
func (in Input) nodeConfigName() string {
	return cmp.Or(in.NodeConfigName, DefaultNodeConfigName)
}
