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
	}{
		{name: "grows by delta", minSize: 0, target: 2, maxSize: 10, delta: 3, want: 5, room: 8},
		{name: "capped at max", minSize: 0, target: 8, maxSize: 10, delta: 5, want: 10, room: 2},
		{name: "below min grows from min", minSize: 3, target: 1, maxSize: 10, delta: 2, want: 5, room: 7},
		{name: "at max", minSize: 0, target: 10, maxSize: 10, delta: 1, want: 10, room: 0, outOfRange: true},
		{name: "above max", minSize: 0, target: 12, maxSize: 10, delta: 1, want: 12, room: -2, outOfRange: true},
		{name: "zero delta", minSize: 0, target: 2, maxSize: 10, delta: 0, want: 2, room: 8, outOfRange: true},
		{name: "below min, zero delta still reaches min", minSize: 3, target: 1, maxSize: 10, delta: 0, want: 3, room: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloud.NodeGroup{ID: "g", MinSize: tc.minSize, TargetSize: tc.target, MaxSize: tc.maxSize}
			if got := Room(g); got != tc.room {
				t.Errorf("Room = %d, want %d", got, tc.room)
			}
			got, err := GrowTarget(g, tc.delta)
			if got != tc.want || errors.Is(err, cloud.ErrOutOfRange) != tc.outOfRange {
				t.Fatalf("GrowTarget = %d, %v; want %d, out of range %t", got, err, tc.want, tc.outOfRange)
			}
		})
	}
}
