package localcloud

import (
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"m5.large", "m5.large", true},
		{"m5.*", "m5.large", true},
		{"m5.*", "m6i.large", false},
		{"*large", "m5.xlarge", true},
		{"ip-127-1-*.ec2.internal", "ip-127-1-0-4.ec2.internal", true},
		{"?5.large", "m5.large", true},
		{"?5.large", "mm5.large", false},
		{"*", "", true},
		{"", "x", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestZoneIDPrefix(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "use1", "eu-central-1": "euc1", "ap-northeast-1": "apne1",
		"us-west-2": "usw2", "us-gov-west-1": "usgw1"} {
		if got := zoneIDPrefix(region); got != want {
			t.Errorf("zoneIDPrefix(%s) = %s, want %s", region, got, want)
		}
	}
}
