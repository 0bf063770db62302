package localcloud

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// page is what the test op of TestDescribe renders.
type page struct {
	Items []string
	Next  string
}

// testOp is a paginated describe over names: a filter "prefix" keeps names
// with one of its values as prefix; any other filter name is unknown.
func testOp(names []string, listErr error) describeOp[string, page] {
	return describeOp[string, page]{
		page: pageLimits{param: "MaxResults", def: 3, lo: 2, hi: 5},
		match: ec2Match(func(s string, f filter) (bool, bool) {
			if f.Name != "prefix" {
				return false, false
			}
			return slices.ContainsFunc(f.Values, func(v string) bool { return strings.HasPrefix(s, v) }), true
		}),
		list:   func() ([]string, error) { return slices.Clone(names), listErr },
		key:    func(s string) string { return s },
		encode: func(items []string, next string) page { return page{Items: items, Next: next} },
	}
}

func TestDescribe(t *testing.T) {
	names := []string{"delta", "alpha", "echo", "bravo", "charlie", "foxtrot"}
	token := func(after string) string {
		_, next, _ := paginate([]string{after, after + "~"}, func(s string) string { return s }, "", 1)
		return next
	}
	tests := []struct {
		name     string
		dialect  dialect
		form     url.Values
		names    []string
		listErr  error
		want     []string
		wantNext string // "" for the last page; "set" for any token
		wantCode string
	}{
		{name: "first page, default size, sorted", form: url.Values{}, names: names,
			want: []string{"alpha", "bravo", "charlie"}, wantNext: "set"},
		{name: "last page", form: url.Values{"NextToken": {token("charlie")}}, names: names,
			want: []string{"delta", "echo", "foxtrot"}},
		{name: "page size", form: url.Values{"MaxResults": {"5"}}, names: names,
			want: []string{"alpha", "bravo", "charlie", "delta", "echo"}, wantNext: "set"},
		{name: "filter", form: url.Values{"Filter.1.Name": {"prefix"}, "Filter.1.Value.1": {"c"}, "Filter.1.Value.2": {"e"}},
			names: names, dialect: dialectEC2, want: []string{"charlie", "echo"}},
		{name: "empty", form: url.Values{}, names: nil, want: []string{}},
		{name: "unknown filter, no candidates", form: url.Values{"Filter.1.Name": {"color"}}, dialect: dialectEC2, want: []string{}},
		{name: "unknown filter", form: url.Values{"Filter.1.Name": {"color"}}, dialect: dialectEC2, names: names,
			wantCode: codeInvalidParameterValue},
		{name: "filter without name (query)", form: url.Values{"Filters.member.1.Values.member.1": {"x"}}, dialect: dialectQuery,
			wantCode: codeValidationError},
		{name: "page too small (ec2)", form: url.Values{"MaxResults": {"1"}}, dialect: dialectEC2, wantCode: codeInvalidParameterValue},
		{name: "page too large (query)", form: url.Values{"MaxResults": {"6"}}, dialect: dialectQuery, wantCode: codeValidationError},
		{name: "page not a number", form: url.Values{"MaxResults": {"x"}}, dialect: dialectEC2, wantCode: codeInvalidParameterValue},
		{name: "bad token (ec2)", form: url.Values{"NextToken": {"!!"}}, dialect: dialectEC2, names: names, wantCode: codeInvalidPaginationToken},
		{name: "bad token (query)", form: url.Values{"NextToken": {"!!"}}, dialect: dialectQuery, names: names, wantCode: codeInvalidNextToken},
		{name: "list fails", form: url.Values{}, names: names, listErr: errf(codeInvalidInstanceIDNotFound, "gone"),
			wantCode: codeInvalidInstanceIDNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.dialect
			if a == 0 {
				a = dialectEC2
			}
			var mu sync.Mutex
			got, err := describe(&mu, params{v: tt.form, dialect: a}, testOp(tt.names, tt.listErr))
			if tt.wantCode != "" {
				var ae *apiError
				if !errors.As(err, &ae) || ae.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Items, tt.want) || len(got.Items) != len(tt.want) {
				t.Errorf("items = %q, want %q", got.Items, tt.want)
			}
			if (got.Next != "") != (tt.wantNext != "") {
				t.Errorf("next = %q, want set: %v", got.Next, tt.wantNext != "")
			}
			if mu.TryLock() {
				mu.Unlock()
			} else {
				t.Error("describe left the lock held")
			}
		})
	}
}

// TestDescribeSteps checks the order of the steps: check sees the filters
// and runs before the lock is taken; list runs under it; an action without
// match reads no filters; an unpaginated action keeps list's order.
func TestDescribeSteps(t *testing.T) {
	var mu sync.Mutex
	var steps []string
	op := describeOp[string, []string]{
		match: func(string, []filter) (bool, error) { return true, nil },
		check: func(fs []filter) error {
			steps = append(steps, "check "+fs[0].Name)
			if !mu.TryLock() {
				t.Error("check ran under the lock")
			} else {
				mu.Unlock()
			}
			return nil
		},
		list: func() ([]string, error) {
			steps = append(steps, "list")
			if mu.TryLock() {
				t.Error("list ran without the lock")
				mu.Unlock()
			}
			return []string{"b", "a"}, nil
		},
		encode: func(items []string, _ string) []string { return items },
	}
	got, err := describe(&mu, params{v: url.Values{"Filter.1.Name": {"x"}, "NextToken": {"!!"}}, dialect: dialectEC2}, op)
	if err != nil || !slices.Equal(got, []string{"b", "a"}) || !slices.Equal(steps, []string{"check x", "list"}) {
		t.Fatalf("got %v, %v; steps %v", got, err, steps)
	}
	op.match = nil
	op.check = func(fs []filter) error {
		if fs != nil {
			t.Errorf("filters read without match: %v", fs)
		}
		return errors.New("stop")
	}
	if _, err := describe(&mu, params{v: url.Values{"Filter.1.Name": {"x"}}, dialect: dialectEC2}, op); err == nil || err.Error() != "stop" {
		t.Fatalf("check's error = %v", err)
	}
}
func TestPaginate(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	var got []string
	token, pages := "", 0
	for {
		page, next, ok := paginate(all, id, token, 2)
		if !ok {
			t.Fatalf("token %q rejected", token)
		}
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		token = next
	}
	if !slices.Equal(got, all) || pages != 3 {
		t.Fatalf("got %v in %d pages", got, pages)
	}
	// A token whose element was deleted resumes after its key.
	_, next, _ := paginate(all, id, "", 2)
	page, _, _ := paginate([]string{"a", "c", "d"}, id, next, 2)
	if !slices.Equal(page, []string{"c", "d"}) {
		t.Fatalf("after a deletion: %v", page)
	}
	if _, _, ok := paginate(all, id, "!!", 2); ok {
		t.Fatal("a garbage token was accepted")
	}
}
