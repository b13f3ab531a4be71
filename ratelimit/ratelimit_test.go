package ratelimit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/ratelimit"
)

func MustLimiter(tb testing.TB, every time.Duration, burst, maxKeys int) (*ratelimit.Limiter, *testclock.Clock) {
	tb.Helper()
	c := testclock.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return ratelimit.New(ratelimit.Config{Every: every, Burst: burst, MaxKeys: maxKeys, Now: c.Now}), c
}

func MustAllow(tb testing.TB, l *ratelimit.Limiter, key string) {
	tb.Helper()
	if ok, retry := l.Allow(key); !ok {
		tb.Fatalf("Allow(%q) = false, %v; want true", key, retry)
	}
}

func MustDeny(tb testing.TB, l *ratelimit.Limiter, key string, wantRetry time.Duration) {
	tb.Helper()
	if ok, retry := l.Allow(key); ok || retry != wantRetry {
		tb.Fatalf("Allow(%q) = %v, %v; want false, %v", key, ok, retry, wantRetry)
	}
}

func TestBurstThenRefill(t *testing.T) {
	l, c := MustLimiter(t, time.Minute, 3, 0)
	for range 3 {
		MustAllow(t, l, "alice")
	}
	MustDeny(t, l, "alice", time.Minute)
	c.Advance(20 * time.Second)
	MustDeny(t, l, "alice", 40*time.Second) // a denied attempt takes no token
	c.Advance(40 * time.Second)
	MustAllow(t, l, "alice")
	MustDeny(t, l, "alice", time.Minute)
}

func TestKeysAreIndependent(t *testing.T) {
	l, _ := MustLimiter(t, time.Minute, 1, 0)
	MustAllow(t, l, "alice")
	MustDeny(t, l, "alice", time.Minute)
	MustAllow(t, l, "bob")
}

func TestIdleKeysAreEvicted(t *testing.T) {
	l, c := MustLimiter(t, time.Second, 5, 0)
	for i := range 100 {
		MustAllow(t, l, fmt.Sprint("ip", i))
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d; want 100", n)
	}
	c.Advance(5 * time.Second) // long enough for any bucket to be full again
	MustAllow(t, l, "fresh")
	if n := l.Len(); n != 1 {
		t.Fatalf("Len after idle period = %d; want 1", n)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	l, _ := MustLimiter(t, time.Hour, 1, 10)
	for i := range 1000 {
		MustAllow(t, l, fmt.Sprint("ip", i))
		if n := l.Len(); n > 10 {
			t.Fatalf("Len = %d after %d keys; want at most 10", n, i+1)
		}
	}
	// The most recently used keys are kept, with their empty buckets.
	MustDeny(t, l, "ip999", time.Hour)
}

func TestConcurrentAllow(t *testing.T) {
	l, _ := MustLimiter(t, time.Hour, 7, 0)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if ok, _ := l.Allow("shared"); ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 7 {
		t.Fatalf("%d of 50 concurrent attempts allowed; want the burst, 7", n)
	}
}

// TestAttemptConcurrent: attempts in flight together cannot exceed the
// burst, and successful attempts do not count.
func TestAttemptConcurrent(t *testing.T) {
	l, _ := MustLimiter(t, time.Hour, 10, 0)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 60 {
		wg.Go(func() {
			<-start
			if done, ok, _ := l.Attempt("alice"); ok {
				admitted.Add(1)
				defer done(true) // failed, but only once all have tried
			}
		})
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != 10 {
		t.Fatalf("%d of 60 concurrent failing attempts admitted; want the burst, 10", n)
	}

	l2, clk := MustLimiter(t, time.Hour, 2, 0)
	for i := range 20 {
		done, ok, _ := l2.Attempt("bob")
		if !ok {
			t.Fatalf("successful attempt %d refused: successes must not count", i)
		}
		clk.Advance(time.Second) // the check takes time
		done(false)
	}
	for range 2 {
		done, _, _ := l2.Attempt("bob") // two failures use the burst
		done(true)
	}
	if _, ok, retry := l2.Attempt("bob"); ok || retry < 59*time.Minute {
		t.Fatalf("third failure: ok %v, retry %v; want refused, 1h", ok, retry)
	}
}
