package testenv

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed atomic.Bool
	fatal  bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed.Store(true) }
func (r *recorder) Fatalf(string, ...any) { r.failed.Store(true); r.fatal = true }

func TestErrorContains(t *testing.T) {
	cases := []struct {
		err    error
		wants  []string
		failed bool
	}{
		{errors.New("pool general: max size 0: must be at least 1"), []string{"general", "max size"}, false},
		{errors.New("pool general: bad"), []string{"general", "max size"}, true},
		{nil, []string{"anything"}, true},
		{errors.New("x"), nil, false},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		ErrorContains(r, c.err, c.wants...)
		if r.failed.Load() != c.failed {
			t.Errorf("ErrorContains(%v, %q): failed=%v, want %v", c.err, c.wants, r.failed.Load(), c.failed)
		}
	}
}

func TestCheckError(t *testing.T) {
	cases := []struct {
		err    error
		wants  []string
		failed bool
	}{
		{nil, nil, false},
		{errors.New("x"), nil, true},
		{errors.New("pool general: max size 0: must be at least 1"), []string{"general", "max size"}, false},
		{errors.New("pool general: bad"), []string{"general", "max size"}, true},
		{nil, []string{"anything"}, true},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		CheckError(r, c.err, c.wants...)
		if r.failed.Load() != c.failed {
			t.Errorf("CheckError(%v, %q): failed=%v, want %v", c.err, c.wants, r.failed.Load(), c.failed)
		}
	}
}

func TestContains(t *testing.T) {
	cases := []struct {
		s      string
		wants  []string
		failed bool
	}{
		{"<Code>MissingParameter</Code> LaunchTemplateName", []string{"<Code>MissingParameter</Code>", "LaunchTemplateName"}, false},
		{"<Code>MissingParameter</Code>", []string{"<Code>MissingParameter</Code>", "LaunchTemplateName"}, true},
		{"", []string{"x"}, true},
		{"", nil, false},
		{"anything", []string{""}, false},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		Contains(r, "body", c.s, c.wants...)
		if r.failed.Load() != c.failed {
			t.Errorf("Contains(%q, %q): failed=%v, want %v", c.s, c.wants, r.failed.Load(), c.failed)
		}
	}
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	r := &recorder{TB: t}
	EventuallyTrue(r, 10*time.Second, "three calls", func() bool { return n.Add(1) >= 3 })
	if r.failed.Load() || n.Load() != 3 {
		t.Errorf("EventuallyTrue: failed=%v after %d calls, want success after 3", r.failed.Load(), n.Load())
	}
	r = &recorder{TB: t}
	Eventually(r, 10*time.Second, "an error", func(context.Context) (bool, error) { return false, errors.New("broken") })
	if !r.fatal {
		t.Error("Eventually: a condition's error did not fail the test")
	}
	r = &recorder{TB: t}
	EventuallyTrue(r, 3*PollInterval, "never", func() bool { return false })
	if !r.fatal {
		t.Error("EventuallyTrue: a condition that never holds did not fail the test")
	}
}
