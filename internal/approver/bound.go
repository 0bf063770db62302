package approver

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BoundText returns s cut to at most MaxMessageBytes bytes of valid UTF-8,
// ending in "…" when cut, with control characters replaced, so attacker
// text in a CSR can neither grow nor break what kelp writes.
func BoundText(s string) string { return cutTo(s, MaxMessageBytes) }

// cutTo is BoundText with a bound of n bytes.
func cutTo(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := max(n-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// Bounds on one attacker-controlled value inside a message: a message
// quotes at most maxValueBytes of each value and at most maxValues values
// of a list, so that one long value cannot push the others out.
const (
	maxValueBytes = 64
	maxValues     = 4
)

// quote returns s in Go quotes, cut first to maxValueBytes bytes (a cut is
// marked "…"); invalid UTF-8 and control characters come out escaped.
func quote(s string) string {
	if len(s) <= maxValueBytes {
		return strconv.Quote(s)
	}
	cut := maxValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// quoteAll renders xs like %q does (["a" "b"]), each value quoted with
// quote, at most maxValues of them and a count of the rest.
func quoteAll[S ~string](xs []S) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i == maxValues {
			fmt.Fprintf(&b, " and %d more", len(xs)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(string(x)))
	}
	b.WriteByte(']')
	return b.String()
}
