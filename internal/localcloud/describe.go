package localcloud

import (
	"cmp"
	"encoding/base64"
	"slices"
	"sort"
	"sync"
)

// describeOp is one Describe action, as the steps describe runs it: the
// action gives where the candidates come from, how a filter matches one,
// the order of the result and how a page is rendered; describe does the
// rest, the same way for every action.
type describeOp[T, R any] struct {
	// page bounds the page size parameter; the zero value means the action
	// is not paginated (every match in one answer, NextToken ignored).
	page pageLimits
	// match reports whether item passes every filter (AND across filters,
	// OR across a filter's values), or an error for a filter the action does
	// not know. nil: the action takes no filters and they are not read.
	match func(item T, filters []filter) (bool, error)
	// check, optional, validates the rest of the request (the action's own
	// parameters, ids that must exist in the fixed region) before the state
	// is read. It sees the filters already read.
	check func(filters []filter) error
	// list returns the candidates; it runs with the lock held and may fail
	// (say, an instance id that does not exist).
	list func() ([]T, error)
	// key orders the matches (ascending) and is what a page token carries.
	// Keys are unique. nil only for an action that is not paginated: the
	// matches keep list's order.
	key func(T) string
	// encode renders one page and the token of the next ("" on the last).
	encode func(page []T, next string) R
}

// pageLimits bound a page size parameter: MaxRecords (Auto Scaling) or
// MaxResults (EC2), def when absent, else within [lo, hi].
type pageLimits struct {
	param       string
	def, lo, hi int
}

// describe runs op for the request p: page size, filters, check, then
// under mu (the cloud's c.mu) the candidates, those the filters match, sorted by key, the
// page the NextToken asks for, rendered.
func describe[T, R any](mu sync.Locker, p params, op describeOp[T, R]) (R, error) {
	var zero R
	size := 0
	if op.page.param != "" {
		n, err := p.pageSize(op.page.param, op.page.def, op.page.lo, op.page.hi)
		if err != nil {
			return zero, err
		}
		size = n
	}
	var filters []filter
	if op.match != nil {
		fs, err := p.filters()
		if err != nil {
			return zero, err
		}
		filters = fs
	}
	if op.check != nil {
		if err := op.check(filters); err != nil {
			return zero, err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	all, err := op.list()
	if err != nil {
		return zero, err
	}
	kept, err := matching(all, op.match, filters)
	if err != nil {
		return zero, err
	}
	if op.key != nil {
		slices.SortFunc(kept, func(a, b T) int { return cmp.Compare(op.key(a), op.key(b)) })
	}
	if size == 0 {
		return op.encode(kept, ""), nil
	}
	page, next, ok := paginate(kept, op.key, p.str("NextToken"), size)
	if !ok {
		return zero, p.badToken()
	}
	return op.encode(page, next), nil
}

// matching returns the items match accepts with filters (all of them when
// match is nil). An unknown filter fails only when there is an item to
// match it against, as in AWS.
func matching[T any](all []T, match func(T, []filter) (bool, error), filters []filter) ([]T, error) {
	if match == nil {
		return all, nil
	}
	kept := all[:0:0]
	for _, item := range all {
		ok, err := match(item, filters)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, item)
		}
	}
	return kept, nil
}

// ec2Match adapts an EC2 filter function, which returns ok=false for a
// filter name it does not know, to describeOp.match (globs, and the EC2
// error for an unknown filter).
func ec2Match[T any](f func(item T, f filter) (match, ok bool)) func(T, []filter) (bool, error) {
	return func(item T, filters []filter) (bool, error) {
		return matchAll(filters, func(fl filter) (bool, bool) { return f(item, fl) })
	}
}

// paginate returns the page of all (sorted ascending by key) that follows
// the element whose key the token carries, at most max long, and the token
// of the next page ("" on the last page).
func paginate[T any](all []T, key func(T) string, token string, max int) ([]T, string, bool) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", false
		}
		after := string(raw)
		start = sort.Search(len(all), func(i int) bool { return key(all[i]) > after })
	}
	end := min(start+max, len(all))
	page := all[start:end]
	if end == len(all) || len(page) == 0 {
		return page, "", true
	}
	return page, base64.RawURLEncoding.EncodeToString([]byte(key(page[len(page)-1]))), true
}

// pageSize reads the page size parameter (MaxRecords or MaxResults) within
// [lo, hi], defaulting to def.
func (p params) pageSize(name string, def, lo, hi int) (int, error) {
	n, err := p.optInt(name)
	if err != nil {
		return 0, err
	}
	if n == nil {
		return def, nil
	}
	if *n < lo || *n > hi {
		return 0, p.invalid("Value ( %d ) for parameter %s is invalid. Expecting a value between %d and %d.", *n, name, lo, hi)
	}
	return *n, nil
}

// badToken is the error for a NextToken that paginate could not read.
func (p params) badToken() *apiError {
	if p.dialect == dialectEC2 {
		return errf(codeInvalidPaginationToken, "Invalid pagination token: %s", p.str("NextToken"))
	}
	return errf(codeInvalidNextToken, "The token '%s' is invalid.", p.str("NextToken"))
}
