package cachetrim

import (
	"fmt"
	"testing"
)

// TestTableBounded: a table holds at most two generations of values, and a
// value used in every generation stays the one shared.
func TestTableBounded(t *testing.T) {
	var tb table[*int]
	hot := tb.share([]byte("hot"), new(int))
	for i := range 5 * tableLimit {
		if got := tb.share([]byte("hot"), new(int)); got != hot {
			t.Fatalf("after %d values the hot value is no longer shared", i)
		}
		tb.share([]byte(fmt.Sprint(i)), new(int))
		if n := tb.size(); n > 2*tableLimit {
			t.Fatalf("table holds %d values, more than %d", n, 2*tableLimit)
		}
	}
	if n := tb.size(); n < tableLimit {
		t.Errorf("table holds %d values: it forgets too soon", n)
	}
}
