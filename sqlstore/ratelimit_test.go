package sqlstore_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/sqlstore"
)

// TestSharedRateLimit runs limiters with shared buckets on two stores that
// open one database, as two nodes of a cluster do: whatever node a try
// reaches, the limit is the cluster's. Tries at once admit no more than the
// burst; the bucket refills at its rate; an attempt that succeeds gives its
// token back, one that fails keeps it; limits of other names and keys are
// apart; Purge drops full buckets only.
func TestSharedRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		nodes := []*sqlstore.Store{b.mustOpenAt(t, location, sqlstore.Config{}), b.mustOpenAt(t, location, sqlstore.Config{})}
		clk := testclock.At(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
		limiter := func(s *sqlstore.Store, name string) *ratelimit.Limiter {
			return ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 10, Now: clk.Now, Shared: s, Name: name})
		}
		logins := []*ratelimit.Limiter{limiter(nodes[0], "login"), limiter(nodes[1], "login")}

		// 40 tries at once, spread over the nodes: 10 admitted.
		var admitted atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if ok, _ := logins[i%2].Allow("alice"); ok {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n != 10 {
			t.Fatalf("%d of 40 tries at once admitted; want the burst, 10", n)
		}
		if ok, retry := logins[1].Allow("alice"); ok || retry != time.Minute {
			t.Fatalf("an 11th try: %v, retry after %v; want refused for 1m0s", ok, retry)
		}
		// Other keys and other limits have buckets of their own.
		if ok, _ := logins[0].Allow("bob"); !ok {
			t.Fatal("bob refused by alice's bucket")
		}
		if ok, _ := limiter(nodes[1], "signup").Allow("alice"); !ok {
			t.Fatal("another limit refused by the login bucket")
		}
		// The bucket refills at its rate, on every node.
		clk.Advance(90 * time.Second)
		if ok, _ := logins[1].Allow("alice"); !ok {
			t.Fatal("refused after a token came back")
		}
		if ok, retry := logins[0].Allow("alice"); ok || retry != 30*time.Second {
			t.Fatalf("the next try: %v, %v; want refused for 30s", ok, retry)
		}

		// Attempts: a success gives the token back, a failure keeps it.
		attempts := []*ratelimit.Limiter{limiter(nodes[0], "password"), limiter(nodes[1], "password")}
		for i := range 20 {
			done, ok, _ := attempts[i%2].Attempt("carol")
			if !ok {
				t.Fatalf("successful attempt %d refused", i)
			}
			done(false)
		}
		for i := range 10 {
			done, ok, _ := attempts[i%2].Attempt("carol")
			if !ok {
				t.Fatalf("failed attempt %d refused before the burst", i)
			}
			done(true)
		}
		if _, ok, _ := attempts[1].Attempt("carol"); ok {
			t.Fatal("an attempt admitted after 10 failures over two nodes")
		}

		// Purge keeps the buckets that are not full.
		clk.Advance(5 * time.Minute)
		if _, err := nodes[0].Purge(t.Context(), clk.Now()); err != nil {
			t.Fatal(err)
		}
		if ok, _ := logins[0].Allow("alice"); !ok {
			t.Fatal("refused after five minutes")
		}
		for i := range 5 {
			done, ok, _ := attempts[i%2].Attempt("carol")
			if !ok {
				t.Fatalf("failed attempt %d refused with five tokens back", i)
			}
			done(true)
		}
		if _, ok, _ := attempts[0].Attempt("carol"); ok {
			t.Fatal("Purge dropped carol's bucket, five tokens short of full")
		}
	})
}
