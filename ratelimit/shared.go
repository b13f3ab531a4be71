package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Buckets keeps the buckets of limiters where every node of a cluster
// sees them (sqlstore.Store keeps them in the database), so that a limit
// holds for the cluster as a whole: a password guesser who spreads tries
// over the nodes, or a partner who calls each of them, meets one bucket.
//
// A bucket is kept as its theoretical arrival time (the generic cell rate
// algorithm): tat is when the bucket would be full again. An event at now
// is admitted when max(tat, now) + every - now <= burst × every, and moves
// tat to max(tat, now) + every. The check and the move are one atomic step
// of the store, whatever the number of nodes.
type Buckets interface {
	// TakeToken admits one event of key under the limit name, or says how
	// long until it would be admitted.
	TakeToken(ctx context.Context, name, key string, now time.Time, every time.Duration, burst int) (ok bool, retryAfter time.Duration, err error)
	// ReturnToken gives back a token that TakeToken took (an attempt that
	// did not fail).
	ReturnToken(ctx context.Context, name, key string, every time.Duration) error
}

// storeTimeout bounds each call to the shared buckets: a limiter answers
// without a context of its own.
const storeTimeout = 5 * time.Second

// unavailableRetry is the Retry-After of a refusal when the shared buckets
// do not answer: a limit that cannot be checked refuses (the database
// behind it is down, so the request would fail anyway).
const unavailableRetry = time.Second

// sharedAllow is Allow on shared buckets.
func (l *Limiter) sharedAllow(key string) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	ok, retry, err := l.shared.TakeToken(ctx, l.name, key, l.now(), l.every, l.burst)
	if err != nil {
		return false, unavailableRetry
	}
	return ok, retry
}

// sharedAttempt is Attempt on shared buckets: the attempt takes a token
// at once (so that attempts in flight on every node count) and gives it
// back when it did not fail.
func (l *Limiter) sharedAttempt(key string) (done func(failed bool), ok bool, retryAfter time.Duration) {
	if ok, retry := l.sharedAllow(key); !ok {
		return func(bool) {}, false, retry
	}
	var once sync.Once
	return func(failed bool) {
		once.Do(func() {
			if failed {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			defer cancel()
			// A token that cannot be given back stays taken: the limit
			// errs on the strict side.
			_ = l.shared.ReturnToken(ctx, l.name, key, l.every)
		})
	}, true, 0
}
