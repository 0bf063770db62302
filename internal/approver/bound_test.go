package approver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBoundText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short text is kept", "node a denied", "node a denied"},
		{"control characters are blanked", "a\nb\x00c", "a b c"},
		{"invalid UTF-8 is replaced", "a\xffb", "a\uFFFDb"},
		{"exactly the bound is kept", strings.Repeat("x", MaxMessageBytes), strings.Repeat("x", MaxMessageBytes)},
		{"long text is cut with an ellipsis", strings.Repeat("x", 10*MaxMessageBytes), strings.Repeat("x", MaxMessageBytes-3) + "…"},
		{"a cut never splits a rune", strings.Repeat("é", MaxMessageBytes), strings.Repeat("é", (MaxMessageBytes-3)/2) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BoundText(tc.in)
			if got != tc.want {
				t.Errorf("BoundText = %q, want %q", got, tc.want)
			}
			if len(got) > MaxMessageBytes || !utf8.ValidString(got) {
				t.Errorf("BoundText = %d bytes, valid UTF-8 %t; want at most %d, valid", len(got), utf8.ValidString(got), MaxMessageBytes)
			}
		})
	}
}
