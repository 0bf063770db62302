package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultMemoryLimitRatio is the share of the container's memory limit
// given to the Go runtime as its soft limit (GOMEMLIMIT), as Prometheus's
// --auto-gomemlimit.ratio: the rest is room for the memory the runtime's
// limit does not see (the binary's pages, the kernel's buffers).
const DefaultMemoryLimitRatio = 0.9

// setMemoryLimit sets the Go runtime's soft memory limit to ratio × the
// memory limit limitOf reports (the cgroup's, in production), so the
// garbage collector works harder near the limit instead of letting the
// heap grow to twice its live size and the kernel kill the container.
// ratio 0 turns it off; an explicit GOMEMLIMIT wins; no limit (not in a
// container, or "max") leaves the runtime as it is. It returns the limit
// set, or 0 when none was.
func setMemoryLimit(ratio float64, limitOf memlimit.Provider, log *slog.Logger) (int64, error) {
	if ratio == 0 {
		return 0, nil
	}
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("Go memory limit set by GOMEMLIMIT", "GOMEMLIMIT", v)
		return 0, nil
	}
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return 0, fmt.Errorf("--memory-limit-ratio %g: must be in (0, 1], or 0 for off", ratio)
	}
	// Not in a cgroup is not an error: there is no limit to follow.
	orNoLimit := func() (uint64, error) {
		limit, err := limitOf()
		if errors.Is(err, memlimit.ErrCgroupsNotSupported) || errors.Is(err, memlimit.ErrNoCgroup) {
			return 0, memlimit.ErrNoLimit
		}
		return limit, err
	}
	limit, err := memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(orNoLimit), memlimit.WithLogger(log))
	switch {
	case err != nil:
		return 0, fmt.Errorf("set the Go memory limit from the container's: %w", err)
	case limit == math.MaxInt64:
		return 0, nil
	}
	log.Info("Go memory limit set from the container's", "limit", limit, "ratio", ratio)
	return limit, nil
}
