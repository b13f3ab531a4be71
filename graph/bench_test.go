package graph_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// countingRecorder counts access records and writes none: the baseline
// that measures the Graph API without the log. Its reads run on the store
// itself, each in its own read transaction.
type countingRecorder struct {
	store glasshouse.Within
	n     atomic.Int64
}

func (r *countingRecorder) Record(context.Context, *glasshouse.AccessRecord) (string, error) {
	r.n.Add(1)
	return "", nil
}

func (r *countingRecorder) RecordWith(ctx context.Context, _ *glasshouse.AccessRecord, do func(context.Context, glasshouse.Within) error) (string, error) {
	r.n.Add(1)
	return "", do(ctx, r.store)
}

// Benchmark sizes: benchMembers members, each friends with the next
// benchFriends/2 and the previous benchFriends/2 (a ring), all of whom
// granted the partner friends and profile; so every GET /me/friends lists
// benchFriends friends with their names. benchClients clients share the
// members' tokens.
const (
	benchMembers = 32
	benchFriends = 10
	benchClients = 32
)

// BenchmarkFriends measures GET /graph/v1/me/friends over real HTTP, with
// valid tokens from the real authorization server and a real SQLite store,
// at 32 concurrent clients, with the real recorder and feeder
// (recorder=log) and with a recorder that writes nothing (recorder=none).
// The postgres/ pair does the same on a PostgreSQL database (skipped
// unless GLASSHOUSE_TEST_POSTGRES names a server). It reports requests a
// second, the CPU per request (this process's only: PostgreSQL's own
// processes are not counted) and the p50 and p99 latencies.
//
//	go test -run '^$' -bench BenchmarkFriends -benchtime 20000x ./graph/
func BenchmarkFriends(b *testing.B) {
	pair := func(b *testing.B, open func(b *testing.B) *sqlstore.Store) {
		b.Run("recorder=log", func(b *testing.B) {
			e := mustEnvOn(b, open(b))
			MustFeeder(b, e)
			benchFriendsOn(b, e, func(members []*glasshouse.Member) (n int64) {
				for _, m := range members {
					c, err := e.store.AccessCount(context.Background(), m.ID)
					if err != nil {
						b.Fatal(err)
					}
					n += int64(c)
				}
				return n
			})
		})
		b.Run("recorder=none", func(b *testing.B) {
			rec := &countingRecorder{}
			e := mustEnvOn(b, open(b), func(c *graph.Config) { c.Recorder = rec; rec.store = c.Store.(glasshouse.Within) })
			benchFriendsOn(b, e, func([]*glasshouse.Member) int64 { return rec.n.Load() })
		})
	}
	pair(b, func(b *testing.B) *sqlstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "glasshouse.db"), sqlstore.Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
	b.Run("postgres", func(b *testing.B) {
		pair(b, func(b *testing.B) *sqlstore.Store { return pgtest.Open(b, sqlstore.Config{}) })
	})
}

// benchFriendsOn runs BenchmarkFriends on e; recorded tells how many
// accesses were recorded.
func benchFriendsOn(b *testing.B, e *env, recorded func([]*glasshouse.Member) int64) {
	p := MustPartner(b, e, "Searchly")
	members := make([]*glasshouse.Member, benchMembers)
	for i := range members {
		members[i] = MustMember(b, e, fmt.Sprintf("member%02d", i))
	}
	for i := range members {
		for d := 1; d <= benchFriends/2; d++ {
			storetest.MustFriends(b, e.store, members[i], members[(i+d)%benchMembers])
		}
	}
	tokens := make([]string, benchMembers)
	for i, m := range members {
		tokens[i] = MustToken(b, e, p, m, consent{scopes: []string{"friends", "profile"}})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	url := e.http.URL + "/graph/v1/me/friends"
	get := func(token string) error {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		} else if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}
	for _, t := range tokens { // warm up, and check the answer once
		var f friendsBody
		e.get(b, "/graph/v1/me/friends", t).OK(http.StatusOK, &f)
		if len(f.Friends) != benchFriends || f.Friends[0].Name == "" {
			b.Fatalf("friends: %+v", f)
		}
	}

	var next atomic.Int64
	latencies := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			token := tokens[c%benchMembers]
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := get(token); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				latencies[c] = append(latencies[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/req")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	if got := recorded(members); got < int64(b.N) {
		b.Errorf("%d access records for %d requests", got, b.N)
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
