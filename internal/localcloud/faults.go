package localcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// DefaultSpotInterruptionNotice is how long a spot instance keeps running
// after its interruption notice, as on EC2.
const DefaultSpotInterruptionNotice = 2 * time.Minute

// Faults are the misbehaviours of a real cloud that the local cloud can
// simulate. The zero value turns every fault off. Load it from a file with
// [LoadFaults] or bind it to flags with [Faults.AddFlags], then call
// [Faults.Validate] (Open does too).
type Faults struct {
	// BootDelay is how long an instance stays Pending before its Runtime
	// boots it: fixed ("20s") or uniformly random in a range ("10s-40s").
	BootDelay DurationRange `json:"bootDelay,omitzero"`
	// LaunchFailures makes launches fail with InsufficientInstanceCapacity
	// (a Failed scaling activity) with a probability per instance type and
	// Availability Zone. The first matching entry applies.
	LaunchFailures []LaunchFailure `json:"launchFailures,omitempty"`
	// SpotCapacity limits how many spot instances (of all groups together)
	// a pool — an instance type in an Availability Zone — can run. The first
	// matching entry applies; pools without one are unlimited. A launch into
	// a full pool fails with InsufficientInstanceCapacity.
	SpotCapacity []SpotCapacity `json:"spotCapacity,omitempty"`
	// SpotInterruption interrupts running spot instances.
	SpotInterruption SpotInterruption `json:"spotInterruption,omitzero"`
	// ThrottleRate is the probability that an API request is refused with
	// Throttling (Auto Scaling) or RequestLimitExceeded (EC2).
	ThrottleRate float64 `json:"throttleRate,omitempty"`
}

// LaunchFailure is a launch failure probability for the instances of a type
// in an Availability Zone; "" or "*" matches any.
type LaunchFailure struct {
	InstanceType     string  `json:"instanceType,omitempty"`
	AvailabilityZone string  `json:"availabilityZone,omitempty"`
	Rate             float64 `json:"rate"`
}

// SpotCapacity is the number of spot instances a pool can run at once;
// "" or "*" matches any instance type or Availability Zone.
type SpotCapacity struct {
	InstanceType     string `json:"instanceType,omitempty"`
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	Capacity         int    `json:"capacity"`
}

// SpotInterruption describes spot interruptions: at every reconcile tick
// each running spot instance without a notice gets one with probability
// Rate, and is terminated Notice later (default
// DefaultSpotInterruptionNotice). The notice publishes "EC2 Spot Instance
// Interruption Warning" to the event bus at once; with a Notice other than
// EC2's two minutes its detail carries the deadline as "time".
type SpotInterruption struct {
	Rate   float64  `json:"rate,omitempty"`
	Notice Duration `json:"notice,omitzero"`
}

// Duration is a time.Duration written as a Go duration string ("2m").
type Duration struct{ time.Duration }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"2m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// DurationRange is a fixed duration (Min == Max, written "20s") or a range
// drawn uniformly (written "10s-40s").
type DurationRange struct{ Min, Max time.Duration }

// String renders the range as ParseDurationRange reads it.
func (r DurationRange) String() string {
	if r.Max <= r.Min {
		return r.Min.String()
	}
	return r.Min.String() + "-" + r.Max.String()
}

// ParseDurationRange parses "20s" or "10s-40s".
func ParseDurationRange(s string) (DurationRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	minD, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return DurationRange{}, fmt.Errorf("duration range %q: %w", s, err)
	}
	if !isRange {
		return DurationRange{Min: minD, Max: minD}, nil
	}
	maxD, err := time.ParseDuration(strings.TrimSpace(hi))
	if err != nil {
		return DurationRange{}, fmt.Errorf("duration range %q: %w", s, err)
	}
	return DurationRange{Min: minD, Max: maxD}, nil
}

// MarshalJSON implements json.Marshaler.
func (r DurationRange) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (r *DurationRange) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration range: want a string like \"20s\" or \"10s-40s\": %w", err)
	}
	v, err := ParseDurationRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// LoadFaults reads faults from a YAML or JSON file (unknown fields are
// errors) and validates them.
func LoadFaults(path string) (Faults, error) {
	var f Faults
	data, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read faults %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return f, fmt.Errorf("parse faults %s: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return f, fmt.Errorf("faults %s: %w", path, err)
	}
	return f, nil
}

// Validate returns every problem at once (errors.Join), each naming its field.
func (f Faults) Validate() error {
	var errs []error
	rate := func(field string, v float64) {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s: rate %v not in [0, 1]", field, v))
		}
	}
	instanceType := func(field, name string) {
		if name != "" && name != "*" {
			if _, err := catalog.Lookup(name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
		}
	}
	if f.BootDelay.Min < 0 || (f.BootDelay.Max != 0 && f.BootDelay.Max < f.BootDelay.Min) {
		errs = append(errs, fmt.Errorf("bootDelay: %s is not a non-negative duration or range", f.BootDelay))
	}
	for i, lf := range f.LaunchFailures {
		rate(fmt.Sprintf("launchFailures[%d].rate", i), lf.Rate)
		instanceType(fmt.Sprintf("launchFailures[%d].instanceType", i), lf.InstanceType)
	}
	for i, sc := range f.SpotCapacity {
		if sc.Capacity < 0 {
			errs = append(errs, fmt.Errorf("spotCapacity[%d].capacity: %d is negative", i, sc.Capacity))
		}
		instanceType(fmt.Sprintf("spotCapacity[%d].instanceType", i), sc.InstanceType)
	}
	rate("spotInterruption.rate", f.SpotInterruption.Rate)
	if f.SpotInterruption.Notice.Duration < 0 {
		errs = append(errs, fmt.Errorf("spotInterruption.notice: %s is negative", f.SpotInterruption.Notice))
	}
	rate("throttleRate", f.ThrottleRate)
	return errors.Join(errs...)
}

func matches(pattern, v string) bool { return pattern == "" || pattern == "*" || pattern == v }

// launchFailureRate returns the failure probability of a launch.
func (f Faults) launchFailureRate(instanceType, az string) float64 {
	for _, lf := range f.LaunchFailures {
		if matches(lf.InstanceType, instanceType) && matches(lf.AvailabilityZone, az) {
			return lf.Rate
		}
	}
	return 0
}

// spotCapacity returns the capacity of a spot pool; ok is false when the
// pool is unlimited.
func (f Faults) spotCapacity(instanceType, az string) (capacity int, ok bool) {
	for _, sc := range f.SpotCapacity {
		if matches(sc.InstanceType, instanceType) && matches(sc.AvailabilityZone, az) {
			return sc.Capacity, true
		}
	}
	return 0, false
}

func (f Faults) interruptionNotice() time.Duration {
	if f.SpotInterruption.Notice.Duration > 0 {
		return f.SpotInterruption.Notice.Duration
	}
	return DefaultSpotInterruptionNotice
}

// bootDelay draws a boot delay.
func (f Faults) bootDelay(r *lockedRand) time.Duration {
	d := f.BootDelay
	if d.Max <= d.Min {
		return d.Min
	}
	return d.Min + time.Duration(r.Int64N(int64(d.Max-d.Min)+1))
}

// lockedRand makes a rand.Source safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(src rand.Source) *lockedRand {
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	return &lockedRand{r: rand.New(src)}
}

// chance reports true with probability p.
func (l *lockedRand) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64() < p
}

func (l *lockedRand) Int64N(n int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n)
}

// AddFlags binds the faults to flags named prefix+"boot-delay",
// prefix+"launch-failure", and so on.
func (f *Faults) AddFlags(fs *pflag.FlagSet, prefix string) {
	fs.Var((*durationRangeValue)(&f.BootDelay), prefix+"boot-delay",
		`instance boot delay: fixed ("20s") or a random range ("10s-40s")`)
	fs.Var(&launchFailuresValue{&f.LaunchFailures}, prefix+"launch-failure",
		`launch failure rate TYPE/AZ=RATE (TYPE or AZ may be "*"; TYPE=RATE for any zone); repeatable`)
	fs.Var(&spotCapacityValue{&f.SpotCapacity}, prefix+"spot-capacity",
		`spot pool capacity TYPE/AZ=COUNT (TYPE or AZ may be "*"); repeatable`)
	fs.Float64Var(&f.SpotInterruption.Rate, prefix+"spot-interruption-rate", 0,
		"probability per reconcile tick that a running spot instance gets an interruption notice")
	fs.DurationVar(&f.SpotInterruption.Notice.Duration, prefix+"spot-interruption-notice", DefaultSpotInterruptionNotice,
		"time between a spot interruption notice and the termination")
	fs.Float64Var(&f.ThrottleRate, prefix+"throttle-rate", 0, "probability that an API request is throttled")
}

type durationRangeValue DurationRange

func (v *durationRangeValue) String() string { return DurationRange(*v).String() }
func (v *durationRangeValue) Type() string   { return "duration-range" }
func (v *durationRangeValue) Set(s string) error {
	r, err := ParseDurationRange(s)
	if err == nil {
		*v = durationRangeValue(r)
	}
	return err
}

// parsePoolAssignment parses "TYPE/AZ=VALUE" or "TYPE=VALUE".
func parsePoolAssignment(s string) (instanceType, az, value string, err error) {
	pool, value, ok := strings.Cut(s, "=")
	if !ok || value == "" {
		return "", "", "", fmt.Errorf("%q: want TYPE/AZ=VALUE", s)
	}
	instanceType, az, _ = strings.Cut(pool, "/")
	return instanceType, az, value, nil
}

type launchFailuresValue struct{ list *[]LaunchFailure }

func (v *launchFailuresValue) Type() string { return "type/az=rate" }
func (v *launchFailuresValue) String() string {
	var parts []string
	for _, lf := range *v.list {
		parts = append(parts, fmt.Sprintf("%s/%s=%v", lf.InstanceType, lf.AvailabilityZone, lf.Rate))
	}
	return strings.Join(parts, ",")
}
func (v *launchFailuresValue) Set(s string) error {
	t, az, val, err := parsePoolAssignment(s)
	if err != nil {
		return err
	}
	r, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return fmt.Errorf("%q: rate: %w", s, err)
	}
	*v.list = append(*v.list, LaunchFailure{InstanceType: t, AvailabilityZone: az, Rate: r})
	return nil
}

type spotCapacityValue struct{ list *[]SpotCapacity }

func (v *spotCapacityValue) Type() string { return "type/az=count" }
func (v *spotCapacityValue) String() string {
	var parts []string
	for _, sc := range *v.list {
		parts = append(parts, fmt.Sprintf("%s/%s=%d", sc.InstanceType, sc.AvailabilityZone, sc.Capacity))
	}
	return strings.Join(parts, ",")
}
func (v *spotCapacityValue) Set(s string) error {
	t, az, val, err := parsePoolAssignment(s)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(val)
	if err != nil {
		return fmt.Errorf("%q: capacity: %w", s, err)
	}
	*v.list = append(*v.list, SpotCapacity{InstanceType: t, AvailabilityZone: az, Capacity: n})
	return nil
}
