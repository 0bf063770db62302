package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 50 * time.Millisecond

// Eventually checks cond every PollInterval until it holds, and fails the
// test when timeout passes first or cond returns an error. what names the
// awaited state in the failure ("3 Nodes Ready").
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), PollInterval, timeout, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// EventuallyTrue is Eventually for a condition that cannot fail.
func EventuallyTrue(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, what, func(context.Context) (bool, error) { return cond(), nil })
}

// ErrorContains fails the test unless err is non-nil and its message
// contains every one of wants.
func ErrorContains(t testing.TB, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("want an error containing %q, got none", wants)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// CheckError is the error check of a table of valid and invalid cases: it
// fails the test unless err is nil when wants is empty, or err is non-nil
// and contains every one of wants otherwise.
func CheckError(t testing.TB, err error, wants ...string) {
	t.Helper()
	if len(wants) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	ErrorContains(t, err, wants...)
}

// Contains fails the test unless s contains every one of wants. what names
// s in the failure ("response body"), which shows s in full.
func Contains(t testing.TB, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}
