package cli

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"
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
