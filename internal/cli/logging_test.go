package cli

import (
	"context"
	"log/slog"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestLogFlags: --log-format picks text or JSON; --v makes the logger at
// least as verbose as klog's level N (and turns on client-go's V(N)
// records); bad values are refused by name.
func TestLogFlags(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	defer func() { _, _ = klogVerbosityFor(t, "0") }()
	for _, tc := range []struct {
		format, level, v string
		json             bool
		enabled          slog.Level // the lowest level logged
	}{
		{format: "text", level: "info", enabled: slog.LevelInfo},
		{format: "json", level: "warn", json: true, enabled: slog.LevelWarn},
		{format: "json", level: "info", v: "4", json: true, enabled: slog.LevelDebug},
		{format: "text", level: "debug", v: "2", enabled: slog.LevelDebug},
		{format: "text", level: "error", v: "2", enabled: slog.Level(-2)},
	} {
		cmd := &cobra.Command{}
		addKlogFlags(cmd.Flags())
		if tc.v != "" {
			if err := cmd.Flags().Set("v", tc.v); err != nil {
				t.Fatal(err)
			}
		}
		f := logFlags{level: tc.level, format: tc.format}
		if err := f.setup(cmd); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		h := slog.Default().Handler()
		if _, isJSON := h.(*slog.JSONHandler); isJSON != tc.json {
			t.Errorf("%+v: handler %T", tc, h)
		}
		if !h.Enabled(context.Background(), tc.enabled) || h.Enabled(context.Background(), tc.enabled-1) {
			t.Errorf("%+v: want records from level %v on", tc, tc.enabled)
		}
		if tc.v == "4" && !klog.V(4).Enabled() {
			t.Errorf("--v=4: klog's V(4) is off")
		}
	}
	for _, tc := range []struct{ f logFlags }{{logFlags{level: "loud", format: "text"}}, {logFlags{level: "info", format: "xml"}}} {
		err := tc.f.setup(&cobra.Command{})
		testenv.ErrorContains(t, err, map[bool]string{true: "--log-level", false: "--log-format"}[tc.f.level == "loud"])
	}
}

func klogVerbosityFor(t *testing.T, v string) (int, error) {
	cmd := &cobra.Command{}
	addKlogFlags(cmd.Flags())
	if err := cmd.Flags().Set("v", v); err != nil {
		t.Fatal(err)
	}
	return klogVerbosity(cmd.Flags())
}
