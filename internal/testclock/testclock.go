package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	running bool          // follows the real time
	now     time.Time     // the time, when standing still
	offset  time.Duration // what Now adds to the real time, when running
}

// At returns a clock that stands still at t until Advance or Set moves it.
func At(t time.Time) *Clock {
	return &Clock{now: t}
}

// Running returns a clock that follows the real time, shifted by what
// Advance and Set moved it.
func Running() *Clock {
	return &Clock{running: true}
}

// Now returns the clock's time. Its signature is that of time.Now, so
// that c.Now is what a config's Now field takes.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return time.Now().Add(c.offset)
	}
	return c.now
}

// Advance moves the clock d forward (backward, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.offset += d
}

// Set moves the clock to t; a running clock goes on from there.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.offset = time.Until(t)
}
