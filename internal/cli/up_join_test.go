package cli

import (
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/pool"
)

func TestUpJoinMode(t *testing.T) {
	for _, tc := range []struct {
		flag         string
		noController bool
		want         pool.JoinMode
		err          string
	}{
		{"", false, pool.JoinModeIdentity, ""},
		{"", true, pool.JoinModeToken, ""},
		{"token", false, pool.JoinModeToken, ""},
		{"identity", false, pool.JoinModeIdentity, ""},
		{"token", true, pool.JoinModeToken, ""},
		{"identity", true, "", "drop --no-controller"},
		{"secret", false, "", "want identity or token"},
	} {
		got, err := upJoinMode(tc.flag, tc.noController)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("upJoinMode(%q, noController=%v) = %q, %v; want %q, error containing %q", tc.flag, tc.noController, got, err, tc.want, tc.err)
		}
	}
}
