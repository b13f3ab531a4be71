package graph_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
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
	pubs := tlogtest.WatchPublications(func() (uint64, bool) {
		cp, err := f.Checkpoint(ctx)
		if err != nil {
			return 0, false
		}
		return cp.Size, true
	})
	defer pubs.Stop()

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
		lat = append(lat, tlogtest.Latencies(b, pubs, answered, func(id accesslog.EventID) (uint64, bool) {
			i, ok, err := e.store.EventLogIndex(ctx, id)
			return i, err == nil && ok
		})...)
	}
	tlogtest.ReportLatencies(b, lat)
}
