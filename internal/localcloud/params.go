package localcloud

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// dialect names one of the two form-encoded protocols: query (Auto
// Scaling, STS, IAM) and ec2. They flatten lists differently and answer a
// bad value with different codes.
type dialect int

const (
	dialectQuery dialect = iota + 1
	dialectEC2
)

// params is a decoded form-encoded request: the form values and the
// protocol's dialect (which decides how lists are flattened and which error
// code a bad value gets).
type params struct {
	v       url.Values
	dialect dialect
}

// str returns the value of key, or "" when absent.
func (p params) str(key string) string { return p.v.Get(key) }

// has reports whether key was sent (even with an empty value).
func (p params) has(key string) bool {
	_, ok := p.v[key]
	return ok
}

// hasPrefix reports whether any key starts with prefix.
func (p params) hasPrefix(prefix string) bool {
	for k := range p.v {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// invalid returns the API's generic bad-input error.
func (p params) invalid(format string, args ...any) *apiError {
	if p.dialect == dialectEC2 {
		return invalidParamf(format, args...)
	}
	return validationf(format, args...)
}

// required returns the non-empty value of key or the error AWS returns for
// a missing required member.
func (p params) required(key string) (string, error) {
	if v := p.str(key); v != "" {
		return v, nil
	}
	return "", p.requiredErr(key)
}

// requiredErr is the error AWS returns when the required key is missing.
func (p params) requiredErr(key string) *apiError {
	if p.dialect == dialectEC2 {
		return errf(codeMissingParameter, "The request must contain the parameter %s", key)
	}
	return validationf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
		lowerFirst(lastSegment(key)))
}

// optInt parses key as an integer; nil when absent.
func (p params) optInt(key string) (*int, error) {
	if !p.has(key) {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.str(key)))
	if err != nil {
		return nil, p.invalid("Invalid value '%s' for %s: not an integer", p.str(key), key)
	}
	return &n, nil
}

// intOr parses key as an integer, returning def when absent.
func (p params) intOr(key string, def int) (int, error) {
	n, err := p.optInt(key)
	if err != nil || n == nil {
		return def, err
	}
	return *n, nil
}

// optBool parses key as a boolean ("true"/"false"); nil when absent.
func (p params) optBool(key string) (*bool, error) {
	if !p.has(key) {
		return nil, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(p.str(key)))
	if err != nil {
		return nil, p.invalid("Invalid value '%s' for %s: not a boolean", p.str(key), key)
	}
	return &b, nil
}

// boolOr parses key as a boolean, returning def when absent.
func (p params) boolOr(key string, def bool) (bool, error) {
	b, err := p.optBool(key)
	if err != nil || b == nil {
		return def, err
	}
	return *b, nil
}

// indexes returns, sorted, the distinct N of keys "prefix.N" and
// "prefix.N.<rest>". For the query protocol prefix ends in ".member".
func (p params) indexes(prefix string) []int {
	prefix += "."
	var out []int
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// listKey returns the key prefix of list member n of the list named name,
// flattened as the API flattens lists ("name.member.n" or "name.n").
func (p params) listKey(name string, n int) string {
	if p.dialect == dialectEC2 {
		return name + "." + strconv.Itoa(n)
	}
	return name + ".member." + strconv.Itoa(n)
}

// listPrefix returns the prefix that indexes takes for the list named name.
func (p params) listPrefix(name string) string {
	if p.dialect == dialectEC2 {
		return name
	}
	return name + ".member"
}

// list returns the string list named name, in index order.
func (p params) list(name string) []string {
	var out []string
	for _, n := range p.indexes(p.listPrefix(name)) {
		out = append(out, p.str(p.listKey(name, n)))
	}
	return out
}

// filter is one Filters/Filter entry: a name and the values any of which
// may match.
type filter struct {
	Name   string
	Values []string
}

// filters returns the request's filters: Filters.member.N.Name and
// Filters.member.N.Values.member.M (Auto Scaling) or Filter.N.Name and
// Filter.N.Value.M (EC2).
func (p params) filters() ([]filter, error) {
	name, values := "Filters", "Values"
	if p.dialect == dialectEC2 {
		name, values = "Filter", "Value"
	}
	var out []filter
	for _, n := range p.indexes(p.listPrefix(name)) {
		key := p.listKey(name, n)
		f := filter{Name: p.str(key + ".Name")}
		if f.Name == "" {
			return nil, p.invalid("The filter name is missing in %s", key)
		}
		f.Values = p.list(key + "." + values)
		out = append(out, f)
	}
	return out, nil
}

func lastSegment(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}
