package cloud

import (
	"errors"
	"testing"
)

func TestCheckSize(t *testing.T) {
	for _, tc := range []struct {
		name             string
		minSize, maxSize int
		n                int
		want             string // "" for nil
	}{
		{name: "inside", minSize: 1, maxSize: 3, n: 2},
		{name: "at min", minSize: 1, maxSize: 3, n: 1},
		{name: "at max", minSize: 1, maxSize: 3, n: 3},
		{name: "empty group", minSize: 0, maxSize: 0, n: 0},
		{name: "above max", minSize: 1, maxSize: 3, n: 4, want: "group g: size 4 is outside [1, 3]: out of range"},
		{name: "below min", minSize: 1, maxSize: 3, n: 0, want: "group g: size 0 is outside [1, 3]: out of range"},
		{name: "negative", minSize: 0, maxSize: 3, n: -1, want: "group g: size -1 is outside [0, 3]: out of range"},
		{name: "any size of a fixed group but its own", minSize: 2, maxSize: 2, n: 3, want: "group g: size 3 is outside [2, 2]: out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NodeGroup{ID: "g", MinSize: tc.minSize, MaxSize: tc.maxSize, TargetSize: 1}.CheckSize(tc.n)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckSize(%d) = %v, want nil", tc.n, err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("CheckSize(%d) = %v, want %q wrapping ErrOutOfRange", tc.n, err, tc.want)
			}
		})
	}
}

func TestRoom(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		minSize, target, maxSize int
		want                     int
	}{
		{name: "room to grow", minSize: 0, target: 2, maxSize: 10, want: 8},
		{name: "below min counts from min", minSize: 3, target: 1, maxSize: 10, want: 7},
		{name: "at max", minSize: 0, target: 10, maxSize: 10, want: 0},
		{name: "above max", minSize: 0, target: 12, maxSize: 10, want: -2},
		{name: "empty fixed group", minSize: 0, target: 0, maxSize: 0, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NodeGroup{ID: "g", MinSize: tc.minSize, TargetSize: tc.target, MaxSize: tc.maxSize}
			if got := g.Room(); got != tc.want {
				t.Fatalf("Room = %d, want %d", got, tc.want)
			}
			// Room and CheckSize are the same bounds: from the size Room
			// counts from, growing by k passes CheckSize exactly when
			// 0 <= k <= Room.
			from := max(tc.target, tc.minSize)
			for k := 0; k <= tc.maxSize+2; k++ {
				if ok := g.CheckSize(from+k) == nil; ok != (k <= g.Room()) {
					t.Errorf("CheckSize(%d+%d) passes %t, Room %d", from, k, ok, g.Room())
				}
			}
		})
	}
}

func TestRoomDoesNotAllocate(t *testing.T) {
	g := NodeGroup{ID: "g", MinSize: 1, TargetSize: 2, MaxSize: 5, Instances: make([]Instance, 3)}
	if n := testing.AllocsPerRun(100, func() { _ = g.Room() + boolInt(g.CheckSize(3) == nil) }); n != 0 {
		t.Fatalf("Room and an in-range CheckSize allocate %v times, want 0", n)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
