package pool

import (
	"strings"
	"testing"
)

func TestSizeWarning(t *testing.T) {
	for _, tc := range []struct {
		types []string
		want  []string // substrings; none: no warning
	}{
		{[]string{"m5.large"}, nil},
		{[]string{"m5.large", "m6i.large", "m7i.large"}, nil},
		{[]string{"m5.large", "m5.xlarge"}, []string{"pool spot: its instance types differ in size", "m5.large 2 vCPU 8 GiB", "m5.xlarge 4 vCPU 16 GiB", "plans the pool as its smallest"}},
		{[]string{"m5.xlarge", "g4dn.xlarge"}, []string{"differ in size"}},
		{[]string{"m5.large", "no-such.type"}, nil},
	} {
		got := Spec{Name: "spot", InstanceTypes: tc.types}.SizeWarning()
		if len(tc.want) == 0 && got != "" {
			t.Errorf("%v: warned %q, want none", tc.types, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v: warning %q lacks %q", tc.types, got, w)
			}
		}
	}
}
