package iampolicy

import (
	"slices"
	"strings"
)

// Request is one authorization question: may the caller perform Action on
// Resource, given the request context?
type Request struct {
	// Action is "service:Action" ("ec2:RunInstances").
	Action string
	// Resource is the ARN the action touches, or "*" for actions that take
	// no resource.
	Resource string
	// Context maps condition keys to their values in this request
	// ("aws:ResourceTag/team": ["a"], "aws:TagKeys": ["team", "env"]). Keys
	// are matched without regard to case; a key not in the map is absent.
	Context map[string][]string
}

// Decision is the outcome of evaluating a request.
type Decision int

const (
	// ImplicitDeny: no statement allows the request (and none denies it).
	ImplicitDeny Decision = iota
	// Allow: a statement allows it and none denies it.
	Allow
	// ExplicitDeny: a Deny statement applies; it wins over every Allow.
	ExplicitDeny
)

// String names the decision.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Evaluate rules on r under policies, as IAM does for identity-based
// policies in one account: an applicable Deny statement denies, else an
// applicable Allow statement allows, else the request is denied
// implicitly.
func Evaluate(policies []*Policy, r Request) Decision {
	ctx := make(map[string][]string, len(r.Context))
	for k, v := range r.Context {
		ctx[strings.ToLower(k)] = v
	}
	allowed := false
	for _, p := range policies {
		for _, st := range p.Statements {
			if !st.applies(r, ctx) {
				continue
			}
			if !st.Allow {
				return ExplicitDeny
			}
			allowed = true
		}
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

// applies reports whether the statement covers the request's action and
// resource and every condition holds.
func (st Statement) applies(r Request, ctx map[string][]string) bool {
	if !covers(st.Actions, st.NotActions, r.Action, true) || !covers(st.Resources, st.NotResources, r.Resource, false) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

// covers reports whether s is in the patterns, or, when notPatterns are
// given instead, in none of them.
func covers(patterns, notPatterns []string, s string, fold bool) bool {
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(p string) bool { return Match(p, s, fold) })
	}
	if len(notPatterns) > 0 {
		return !in(notPatterns)
	}
	return in(patterns)
}

// Match reports whether s matches pattern, where * matches any run of
// characters (also ':' and '/') and ? any one character; fold ignores
// case.
func Match(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Iterative glob with backtracking to the last star.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
