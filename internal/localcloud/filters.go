package localcloud

import (
	"strings"
)

// globMatch matches s against an EC2 filter value pattern: '*' matches any
// run of characters, '?' exactly one; everything else matches itself.
func globMatch(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	// Iterative wildcard match with single backtrack point.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// anyGlob reports whether s matches any of the patterns.
func anyGlob(patterns []string, s string) bool {
	for _, pat := range patterns {
		if globMatch(pat, s) {
			return true
		}
	}
	return false
}

// tagFilter evaluates the tag filters shared by EC2 resources: tag:<key>,
// tag-key and tag-value. ok is false when f is not a tag filter.
func tagFilter(f filter, tags []tag) (match, ok bool) {
	switch {
	case strings.HasPrefix(f.Name, "tag:"):
		key := strings.TrimPrefix(f.Name, "tag:")
		for _, t := range tags {
			if t.Key == key && anyGlob(f.Values, t.Value) {
				return true, true
			}
		}
		return false, true
	case f.Name == "tag-key":
		for _, t := range tags {
			if anyGlob(f.Values, t.Key) {
				return true, true
			}
		}
		return false, true
	case f.Name == "tag-value":
		for _, t := range tags {
			if anyGlob(f.Values, t.Value) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

// badFilter is the EC2 error for a filter name an action does not know.
func badFilter(name string) *apiError {
	return invalidParamf("The filter '%s' is invalid", name)
}

// matchAll applies every filter (AND across filters, OR across a filter's
// values) with match, which returns ok=false for an unknown filter name.
func matchAll(filters []filter, match func(f filter) (bool, bool)) (bool, error) {
	for _, f := range filters {
		m, ok := match(f)
		if !ok {
			return false, badFilter(f.Name)
		}
		if !m {
			return false, nil
		}
	}
	return true, nil
}
