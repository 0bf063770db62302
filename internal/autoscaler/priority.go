package autoscaler

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"

	"sigs.k8s.io/yaml"
)

// Priorities maps a priority to the patterns of the groups that have it;
// higher wins. A pattern matches a group whose ID or pool name it matches
// anywhere (unanchored, as cluster-autoscaler's: "gpu" matches
// "prod-gpu-a"; write "^gpu$" for the whole name).
type Priorities map[int][]*regexp.Regexp

// ParsePriorities parses the priority expander's configuration, in
// cluster-autoscaler's format (the "priorities" key of its ConfigMap):
//
//	10:
//	  - .*-spot-.*
//	50:
//	  - gpu-.*
//
// Every problem is reported at once, naming the priority and pattern.
func ParsePriorities(doc string) (Priorities, error) {
	var raw map[string][]string
	if err := yaml.UnmarshalStrict([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("parse priorities: want a map of integer priority to a list of regexes: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("parse priorities: no priorities given")
	}
	out := Priorities{}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		prio, err := strconv.Atoi(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("priority %q: not an integer", key))
			continue
		}
		if len(raw[key]) == 0 {
			errs = append(errs, fmt.Errorf("priority %d: no patterns", prio))
		}
		for i, pat := range raw[key] {
			if pat == "" {
				errs = append(errs, fmt.Errorf("priority %d pattern %d: empty", prio, i+1))
				continue
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				errs = append(errs, fmt.Errorf("priority %d pattern %d %q: %w", prio, i+1, pat, err))
				continue
			}
			out[prio] = append(out[prio], re)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse priorities: %w", err)
	}
	return out, nil
}

// Priority returns the highest priority whose pattern matches group or
// pool; ok is false when none does.
func (p Priorities) Priority(group, pool string) (prio int, ok bool) {
	prio = math.MinInt
	for pr, res := range p {
		if pr <= prio && ok {
			continue
		}
		for _, re := range res {
			if re.MatchString(group) || (pool != "" && re.MatchString(pool)) {
				prio, ok = pr, true
				break
			}
		}
	}
	return prio, ok
}

// PriorityExpander prefers the options whose group has the highest
// priority in p; groups matching no pattern rank below every matching one.
func PriorityExpander(p Priorities) Expander {
	return funcExpander{"priority", func(o Option) float64 {
		prio, ok := p.Priority(o.Group, o.Pool)
		if !ok {
			return math.Inf(1)
		}
		return -float64(prio)
	}}
}
