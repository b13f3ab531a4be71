package testclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/testclock"
)

func TestAtStandsStill(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testclock.At(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v; want %v", got, start)
	}
	time.Sleep(time.Millisecond)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("a standing clock moved by itself: %v", got)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("after Advance(1h): %v", got)
	}
	c.Advance(-2 * time.Hour)
	if got := c.Now(); !got.Equal(start.Add(-time.Hour)) {
		t.Fatalf("after Advance(-2h): %v", got)
	}
	later := start.AddDate(1, 0, 0)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Fatalf("after Set: %v; want %v", got, later)
	}
}

func TestRunningFollowsRealTime(t *testing.T) {
	c := testclock.Running()
	before := time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Fatalf("Now() = %v; want within [%v, %v]", got, before, after)
	}
	c.Advance(time.Hour)
	before = time.Now()
	got = c.Now()
	after = time.Now()
	if got.Before(before.Add(time.Hour)) || got.After(after.Add(time.Hour)) {
		t.Fatalf("after Advance(1h): %v; want an hour after [%v, %v]", got, before, after)
	}
	target := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	c.Set(target)
	// A running clock goes on from where it was set: within the few
	// milliseconds the check takes, and never before it.
	if got := c.Now(); got.Before(target) || got.After(target.Add(time.Minute)) {
		t.Fatalf("after Set(%v): %v", target, got)
	}
}

// TestConcurrent is for the race detector: servers read the clock while
// the test moves it.
func TestConcurrent(t *testing.T) {
	for _, c := range []*testclock.Clock{testclock.At(time.Unix(0, 0)), testclock.Running()} {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 1000 {
					c.Now()
				}
			})
		}
		for range 1000 {
			c.Advance(time.Millisecond)
		}
		wg.Wait()
	}
}
