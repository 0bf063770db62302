package approver

import (
	"strings"
	"unicode/utf8"
)

// BoundText returns s cut to at most MaxMessageBytes bytes of valid UTF-8,
// ending in "…" when cut, with control characters replaced, so attacker
// text in a CSR can neither grow nor break what kelp writes.
func BoundText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= MaxMessageBytes {
		return s
	}
	const ellipsis = "…"
	cut := MaxMessageBytes - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
