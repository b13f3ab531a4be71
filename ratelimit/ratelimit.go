package ratelimit

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config sets the limit for every key. Each key may act Burst times at once,
// then once every Every.
type Config struct {
	Every   time.Duration
	Burst   int
	MaxKeys int              // default 100,000
	Now     func() time.Time // default time.Now

	// Shared, when set, keeps the buckets there instead of in this
	// process, under Name, which must then be unique among the limiters
	// that share them (MaxKeys does not apply: the store drops full
	// buckets itself).
	Shared Buckets
	Name   string
}

// Limiter holds one token bucket per key. It is safe for concurrent use.
type Limiter struct {
	limit   rate.Limit
	every   time.Duration
	burst   int
	maxKeys int
	now     func() time.Time
	shared  Buckets // nil: the buckets below
	name    string  // the limiter's name in shared

	mu   sync.Mutex
	keys map[string]*list.Element // of *entry
	lru  list.List                // front: most recently used
}

type entry struct {
	key      string
	limiter  *rate.Limiter
	inflight int // attempts admitted by Attempt and not yet done
}

// New returns a Limiter. Every and Burst must be positive.
func New(c Config) *Limiter {
	if c.Every <= 0 || c.Burst <= 0 {
		panic("ratelimit: Every and Burst must be positive")
	}
	if c.Shared != nil && c.Name == "" {
		panic("ratelimit: a shared limiter needs a Name")
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Limiter{
		limit:   rate.Every(c.Every),
		every:   c.Every,
		burst:   c.Burst,
		shared:  c.Shared,
		name:    c.Name,
		maxKeys: c.MaxKeys,
		now:     c.Now,
		keys:    make(map[string]*list.Element),
	}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// returns false and how long until a token is back (for Retry-After).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l.shared != nil {
		return l.sharedAllow(key)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evict(now)

	r := l.entry(key).limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Attempt admits an attempt of which only failures count, such as a
// password check, and returns done, which the caller must call once with
// whether it failed. Attempts in flight count against the bucket until they
// are done, so that many at once cannot slip past the limit together. When
// no token is left it returns ok false and how long until one is back.
func (l *Limiter) Attempt(key string) (done func(failed bool), ok bool, retryAfter time.Duration) {
	if l.shared != nil {
		return l.sharedAttempt(key)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evict(now)
	e := l.entry(key)
	if missing := 1 + float64(e.inflight) - e.limiter.TokensAt(now); missing > 0 {
		return func(bool) {}, false, time.Duration(missing / float64(l.limit) * float64(time.Second))
	}
	e.inflight++
	var once sync.Once
	return func(failed bool) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			e.inflight--
			if failed {
				e.limiter.ReserveN(l.now(), 1)
			}
		})
	}, true, 0
}

// Len returns the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// entry returns key's entry, created if needed, as the most recently used.
func (l *Limiter) entry(key string) *entry {
	if el, ok := l.keys[key]; ok {
		l.lru.MoveToFront(el)
		return el.Value.(*entry)
	}
	if len(l.keys) >= l.maxKeys {
		l.remove(l.lru.Back())
	}
	e := &entry{key: key, limiter: rate.NewLimiter(l.limit, l.burst)}
	l.keys[key] = l.lru.PushFront(e)
	return e
}

// evict drops least recently used keys while their buckets are full again.
func (l *Limiter) evict(now time.Time) {
	for el := l.lru.Back(); el != nil && el.Value.(*entry).inflight == 0 && el.Value.(*entry).limiter.TokensAt(now) >= float64(l.burst); el = l.lru.Back() {
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.keys, el.Value.(*entry).key)
	l.lru.Remove(el)
}
