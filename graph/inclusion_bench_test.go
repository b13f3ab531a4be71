package graph_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// BenchmarkAccessToInclusion measures, for Graph requests at a steady 100
// per second, the time from the response (whose record has committed) to
// the first published checkpoint that includes its entry, with the feeder's
// production settings (checkpoints at most every 2 s). Reported: p50-s and
// p99-s. Issue 4's target is a p50 of at most 2 s.
func BenchmarkAccessToInclusion(b *testing.B) {
	const rate, n = 100, 1000 // 10 s of requests per iteration
	w := MustWorld(b)
	e := w.env
	f, err := accesslog.NewFeeder(context.Background(), accesslog.FeederConfig{Dir: filepath.Join(b.TempDir(), "log"),
		Key: e.key, Outbox: accesslog.StoreOutbox{Store: e.store}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fed sync.WaitGroup
	fed.Go(func() { f.Run(ctx) })
	defer func() { cancel(); fed.Wait(); f.Close(context.Background()) }()
	token := MustToken(b, e, w.p, w.alice, consent{scopes: glasshouse.DataScopes})
	verifier := e.key.Verifier

	// Watch the checkpoint: when each size was first published.
	type published struct {
		at   time.Time
		size uint64
	}
	var (
		mu   sync.Mutex
		seen []published
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		var last uint64
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if cp, err := f.Checkpoint(ctx); err == nil && cp.Size > last {
				last = cp.Size
				mu.Lock()
				seen = append(seen, published{time.Now(), cp.Size})
				mu.Unlock()
			}
		}
	})

	var lat []time.Duration
	for range b.N {
		answered := map[accesslog.EventID]time.Time{}
		tick := time.NewTicker(time.Second / rate)
		for range n {
			<-tick.C
			r := e.get(b, "/graph/v1/me/friends", token)
			if r.Status != http.StatusOK {
				b.Fatalf("status %d", r.Status)
			}
			rc, err := accesslog.VerifyReceipt(r.Header.Get(accesslog.ReceiptHeader), verifier)
			if err != nil {
				b.Fatal(err)
			}
			answered[rc.EventID] = time.Now()
		}
		tick.Stop()
		// Wait for every entry's index, then for a checkpoint covering it.
		var last uint64
		index := map[accesslog.EventID]uint64{}
		for deadline := time.Now().Add(30 * time.Second); len(index) < len(answered); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d entries integrated", len(index), len(answered))
			}
			for id := range answered {
				if i, ok, err := e.store.EventLogIndex(ctx, id); err == nil && ok {
					index[id], last = i, max(last, i)
				}
			}
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			covered := len(seen) > 0 && seen[len(seen)-1].size > last
			mu.Unlock()
			if covered {
				break
			} else if time.Now().After(deadline) {
				b.Fatal("no checkpoint covers the last entry")
			}
		}
		mu.Lock()
		for id, at := range answered {
			k := slices.IndexFunc(seen, func(p published) bool { return p.size > index[id] })
			lat = append(lat, seen[k].at.Sub(at))
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
	b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-s")
}
