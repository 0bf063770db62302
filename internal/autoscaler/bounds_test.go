package autoscaler

import (
	"errors"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestGrowTarget(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		minSize, target, maxSize int
		delta                    int
		want, room               int
		outOfRange               bool
		msg                      string // the error's text when out of range
	}{
		{name: "grows by delta", minSize: 0, target: 2, maxSize: 10, delta: 3, want: 5, room: 8},
		{name: "capped at max", minSize: 0, target: 8, maxSize: 10, delta: 5, want: 10, room: 2},
		{name: "below min grows from min", minSize: 3, target: 1, maxSize: 10, delta: 2, want: 5, room: 7},
		{name: "at max", minSize: 0, target: 10, maxSize: 10, delta: 1, want: 10, room: 0, outOfRange: true,
			msg: "grow by 1: group g: size 11 is outside [0, 10]: out of range"},
		{name: "above max", minSize: 0, target: 12, maxSize: 10, delta: 1, want: 12, room: -2, outOfRange: true,
			msg: "grow by 1: group g: size 13 is outside [0, 10]: out of range"},
		{name: "zero delta", minSize: 0, target: 2, maxSize: 10, delta: 0, want: 2, room: 8, outOfRange: true,
			msg: "grow group g at 2 by 0: out of range"},
		{name: "below min, zero delta still reaches min", minSize: 3, target: 1, maxSize: 10, delta: 0, want: 3, room: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloud.NodeGroup{ID: "g", MinSize: tc.minSize, TargetSize: tc.target, MaxSize: tc.maxSize}
			if got := g.Room(); got != tc.room {
				t.Errorf("Room = %d, want %d", got, tc.room)
			}
			got, err := GrowTarget(g, tc.delta)
			if got != tc.want || errors.Is(err, cloud.ErrOutOfRange) != tc.outOfRange {
				t.Fatalf("GrowTarget = %d, %v; want %d, out of range %t", got, err, tc.want, tc.outOfRange)
			}
			if tc.outOfRange && err.Error() != tc.msg {
				t.Errorf("GrowTarget error %q, want %q", err, tc.msg)
			}
		})
	}
}
