package cli

import (
	"errors"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

func TestSetMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AUTOMEMLIMIT", "") // restored after the test; unset during it
	os.Unsetenv("AUTOMEMLIMIT")
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	const mib = 1 << 20
	fixed := func(limit uint64, err error) memlimit.Provider {
		return func() (uint64, error) { return limit, err }
	}
	for _, tc := range []struct {
		name     string
		ratio    float64
		provider memlimit.Provider
		want     int64 // the runtime's limit after; 0: unchanged
		wantErr  string
	}{
		{name: "a fraction of the container's limit", ratio: 0.9, provider: fixed(200*mib, nil), want: 180 * mib},
		{name: "the whole limit", ratio: 1, provider: fixed(200*mib, nil), want: 200 * mib},
		{name: "off", ratio: 0, provider: fixed(200*mib, nil)},
		{name: "no limit", ratio: 0.9, provider: fixed(0, memlimit.ErrNoLimit)},
		{name: "not in a cgroup", ratio: 0.9, provider: fixed(0, memlimit.ErrNoCgroup)},
		{name: "no cgroups here", ratio: 0.9, provider: fixed(0, memlimit.ErrCgroupsNotSupported)},
		{name: "ratio above 1", ratio: 1.5, provider: fixed(200*mib, nil), wantErr: "--memory-limit-ratio 1.5: must be in (0, 1]"},
		{name: "negative ratio", ratio: -0.1, provider: fixed(200*mib, nil), wantErr: "--memory-limit-ratio -0.1"},
		{name: "NaN", ratio: math.NaN(), provider: fixed(200*mib, nil), wantErr: "--memory-limit-ratio NaN"},
		{name: "unreadable limit", ratio: 0.9, provider: fixed(0, errors.New("permission denied")), wantErr: "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			got, err := setMemoryLimit(tc.ratio, tc.provider, slog.New(slog.DiscardHandler))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			runtimeLimit := debug.SetMemoryLimit(-1)
			if tc.want == 0 {
				if got != 0 || runtimeLimit != math.MaxInt64 {
					t.Fatalf("returned %d, runtime limit %d; want none set", got, runtimeLimit)
				}
				return
			}
			if got != tc.want || runtimeLimit != tc.want {
				t.Fatalf("returned %d, runtime limit %d; want %d", got, runtimeLimit, tc.want)
			}
		})
	}

	t.Run("an explicit GOMEMLIMIT wins", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "100MiB")
		debug.SetMemoryLimit(100 * mib)
		if _, err := setMemoryLimit(0.9, fixed(200*mib, nil), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		if got := debug.SetMemoryLimit(-1); got != 100*mib {
			t.Fatalf("runtime limit %d, want GOMEMLIMIT's %d", got, 100*mib)
		}
	})
}
