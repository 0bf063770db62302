package cli

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/userdata"
)

// parseLabels parses repeated --label key=value flags.
func parseLabels(flags []string) (map[string]string, error) {
	labels := map[string]string{}
	var errs []error
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			errs = append(errs, flagError("label", f, "want key=value"))
			continue
		}
		labels[k] = v
	}
	return labels, errors.Join(errs...)
}

// parseTaints parses repeated --taint key[=value]:Effect flags, the form
// kubectl taint uses.
func parseTaints(flags []string) ([]corev1.Taint, error) {
	var taints []corev1.Taint
	var errs []error
	for _, f := range flags {
		kv, effect, ok := strings.Cut(f, ":")
		if !ok || kv == "" || effect == "" {
			errs = append(errs, flagError("taint", f, "want key[=value]:Effect"))
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		taints = append(taints, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return taints, nil
}

// addUserdataProfileFlag is --userdata-profile, the node layout the
// user-data targets (kubeadm, openshift-3.11, local). It is not --profile:
// that is the AWS credentials profile, as AWS users read it.
func addUserdataProfileFlag(f *pflag.FlagSet, profile *string) {
	f.StringVar(profile, "userdata-profile", string(userdata.ProfileKubeadm), "user-data layout: kubeadm, openshift-3.11 or local")
}

// aliasFlag adds alias as another name of the flag primary, added
// before: the two share one value, so there is one setting and one
// meaning. The alias is hidden; primary's usage names it.
func aliasFlag(f *pflag.FlagSet, alias, primary string) {
	p := f.Lookup(primary)
	f.Var(p.Value, alias, "another name of --"+primary)
	a := f.Lookup(alias)
	a.DefValue, a.NoOptDefVal = p.DefValue, p.NoOptDefVal
	_ = f.MarkHidden(alias)
}

// movedFlag keeps an old flag name as a hidden flag that fails with why,
// so that a script written for the old meaning stops with a clear error
// rather than doing something else.
func movedFlag(f *pflag.FlagSet, name, shorthand, why string) {
	f.VarP(movedValue(why), name, shorthand, why)
	_ = f.MarkHidden(name)
}

// movedValue refuses every value with its message.
type movedValue string

func (m movedValue) String() string   { return "" }
func (m movedValue) Set(string) error { return errors.New(string(m)) }
func (m movedValue) Type() string     { return "string" }
