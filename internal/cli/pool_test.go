package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPoolMetadataFlags checks that bad metadata option, drain hook, roll
// and delete flags are refused before any call to the cloud or the cluster.
func TestPoolMetadataFlags(t *testing.T) {
	create := []string{"pool", "create", "general", "--cluster-name", "prod", "--image", "ami-0123456789abcdef0", "--instance-types", "m5.large"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"create: bad tokens", append(create, "--metadata-http-tokens", "sometimes"), `metadata.httpTokens "sometimes": want required or optional`},
		{"create: hop limit 0", append(create, "--metadata-hop-limit", "0"), "--metadata-hop-limit 0: want 1 to 64"},
		{"create: hop limit 65", append(create, "--metadata-hop-limit", "65"), "metadata.hopLimit 65: want 1 to 64"},
		{"update: hop limit 0", []string{"pool", "update", "general", "--metadata-hop-limit", "0"}, "--metadata-hop-limit 0: want 1 to 64"},
		{"update: nothing", []string{"pool", "update", "general"}, "--metadata-hop-limit or --drain-heartbeat-timeout"},
		{"create: heartbeat too short", append(create, "--drain-heartbeat-timeout", "29s"), "--drain-heartbeat-timeout 29s: want whole seconds from 30s to 2h0m0s"},
		{"create: heartbeat too long", append(create, "--drain-heartbeat-timeout", "2h1s"), "--drain-heartbeat-timeout 2h0m1s"},
		{"create: heartbeat not whole seconds", append(create, "--drain-heartbeat-timeout", "90.5s"), "--drain-heartbeat-timeout 1m30.5s"},
		{"update: heartbeat too short", []string{"pool", "update", "general", "--drain-heartbeat-timeout", "10s"}, "--drain-heartbeat-timeout 10s"},
		{"update: heartbeat 0", []string{"pool", "update", "general", "--drain-heartbeat-timeout", "0s"}, "--drain-heartbeat-timeout 0s"},
		{"adopt-hook: heartbeat too long", []string{"pool", "adopt-hook", "legacy", "--cluster-name", "prod", "--drain-heartbeat-timeout", "3h"}, "--drain-heartbeat-timeout 3h0m0s"},
		{"adopt-hook: no group", []string{"pool", "adopt-hook"}, "accepts 1 arg(s)"},
		{"roll: min and max 100", []string{"pool", "roll", "general", "--max-healthy-percentage", "100"}, "no instance could be replaced"},
		{"roll: max above 200", []string{"pool", "roll", "general", "--max-healthy-percentage", "250"}, "max healthy percentage 250: want 100 to 200"},
		{"roll: warmup not whole seconds", []string{"pool", "roll", "general", "--instance-warmup", "1.5s"}, "instance warmup 1.5s"},
		{"roll: cancel and wait", []string{"pool", "roll", "general", "--cancel", "--wait"}, "--cancel takes neither --status nor --wait"},
		{"delete: force and force-delete", []string{"pool", "delete", "general", "--force", "--force-delete"}, "[force force-delete] were all set"},
		{"delete: drain timeout 0", []string{"pool", "delete", "general", "--force", "--drain-timeout", "0s"}, "--drain-timeout 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := NewRoot("test")
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tt.args)
			err := root.ExecuteContext(context.Background())
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}
