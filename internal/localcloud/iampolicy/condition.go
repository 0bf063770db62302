package iampolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Condition is one operator applied to one context key: it holds when the
// request's values of Key match Values as Operator says.
type Condition struct {
	// Operator as written ("StringEquals", "ForAllValues:StringLike",
	// "StringEqualsIfExists", "Null").
	Operator string
	// Key is the condition key ("aws:ResourceTag/team"); matched without
	// regard to case, as IAM does.
	Key    string
	Values []string

	set      string // "", "ForAllValues" or "ForAnyValue"
	ifExists bool
	negated  bool
	match    func(have, want string) bool // nil: Null
}

// matchers are the base operators (without IfExists or a set qualifier)
// and whether each is the negation of its match.
var matchers = map[string]struct {
	match   func(have, want string) bool
	negated bool
}{
	"StringEquals":              {func(h, w string) bool { return h == w }, false},
	"StringNotEquals":           {func(h, w string) bool { return h == w }, true},
	"StringEqualsIgnoreCase":    {strings.EqualFold, false},
	"StringNotEqualsIgnoreCase": {strings.EqualFold, true},
	"StringLike":                {func(h, w string) bool { return Match(w, h, false) }, false},
	"StringNotLike":             {func(h, w string) bool { return Match(w, h, false) }, true},
	"ArnEquals":                 {func(h, w string) bool { return Match(w, h, false) }, false},
	"ArnLike":                   {func(h, w string) bool { return Match(w, h, false) }, false},
	"ArnNotEquals":              {func(h, w string) bool { return Match(w, h, false) }, true},
	"ArnNotLike":                {func(h, w string) bool { return Match(w, h, false) }, true},
	"Bool":                      {strings.EqualFold, false},
}

// newCondition parses an operator as written in a policy.
func newCondition(op, key string, values []string) (Condition, error) {
	c := Condition{Operator: op, Key: key, Values: values}
	base := op
	if set, rest, ok := strings.Cut(op, ":"); ok {
		if set != "ForAllValues" && set != "ForAnyValue" {
			return c, fmt.Errorf("condition operator %q: unknown qualifier %q (want ForAllValues or ForAnyValue)", op, set)
		}
		c.set, base = set, rest
	}
	if len(values) == 0 {
		return c, fmt.Errorf("condition %s on %s: no values", op, key)
	}
	if base == "Null" {
		if c.set != "" || (values[0] != "true" && values[0] != "false") || len(values) != 1 {
			return c, fmt.Errorf("condition Null on %s: want one value, true or false", key)
		}
		return c, nil
	}
	if trimmed, ok := strings.CutSuffix(base, "IfExists"); ok {
		c.ifExists, base = true, trimmed
	}
	m, ok := matchers[base]
	if !ok {
		return c, fmt.Errorf("condition operator %q is not supported", op)
	}
	c.match, c.negated = m.match, m.negated
	return c, nil
}

// holds reports whether the condition holds for the request context ctx
// (condition keys, lower-cased, to their values; a key absent from ctx is
// missing from the request).
func (c Condition) holds(ctx map[string][]string) bool {
	have, present := ctx[strings.ToLower(c.Key)]
	if c.match == nil { // Null: "true" means the key is absent
		return (c.Values[0] == "true") == !present
	}
	if !present {
		switch {
		case c.set == "ForAllValues":
			return true // vacuously: no value fails
		case c.set == "ForAnyValue":
			return false
		}
		return c.ifExists || c.negated
	}
	// one reports whether a single request value satisfies the operator.
	one := func(v string) bool {
		hit := slices.ContainsFunc(c.Values, func(w string) bool { return c.match(v, w) })
		return hit != c.negated
	}
	switch c.set {
	case "ForAllValues":
		return !slices.ContainsFunc(have, func(v string) bool { return !one(v) })
	case "ForAnyValue":
		return slices.ContainsFunc(have, one)
	}
	if c.negated { // no request value equals any policy value
		return !slices.ContainsFunc(have, func(v string) bool { return !one(v) })
	}
	return slices.ContainsFunc(have, one)
}
