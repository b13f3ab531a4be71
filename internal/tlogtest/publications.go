package tlogtest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Publications records when each size of a log's checkpoint was first
// published, for benchmarks of the time from an access to a checkpoint
// that covers it. Create it with WatchPublications; Stop it when done.
type Publications struct {
	mu   sync.Mutex
	seen []published // sizes ascending
	stop chan struct{}
	wg   sync.WaitGroup
}

type published struct {
	at   time.Time
	size uint64
}

// WatchPublications polls size every 5 ms (size returns the published,
// verified checkpoint's size, or false while there is none).
func WatchPublications(size func() (uint64, bool)) *Publications {
	p := &Publications{stop: make(chan struct{})}
	p.wg.Go(func() {
		var last uint64
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if n, ok := size(); ok && n > last {
				last = n
				p.mu.Lock()
				p.seen = append(p.seen, published{time.Now(), n})
				p.mu.Unlock()
			}
		}
	})
	return p
}

// Stop ends the polling.
func (p *Publications) Stop() {
	close(p.stop)
	p.wg.Wait()
}

// Latencies waits (at most 30 s each) until every event in sent has its
// log index (indexOf), then until a published checkpoint covers the
// highest, and returns, for each event, the time from sent to the first
// checkpoint that covered it.
func Latencies[K comparable](tb testing.TB, p *Publications, sent map[K]time.Time, indexOf func(K) (uint64, bool)) []time.Duration {
	tb.Helper()
	var last uint64
	index := make(map[K]uint64, len(sent))
	for deadline := time.Now().Add(30 * time.Second); len(index) < len(sent); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d entries integrated", len(index), len(sent))
		}
		for id := range sent {
			if i, ok := indexOf(id); ok {
				index[id], last = i, max(last, i)
			}
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		covered := len(p.seen) > 0 && p.seen[len(p.seen)-1].size > last
		p.mu.Unlock()
		if covered {
			break
		} else if time.Now().After(deadline) {
			tb.Fatal("no checkpoint covers the last entry")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := make([]time.Duration, 0, len(sent))
	for id, at := range sent {
		k := slices.IndexFunc(p.seen, func(pub published) bool { return pub.size > index[id] })
		lat = append(lat, p.seen[k].at.Sub(at))
	}
	return lat
}

// ReportLatencies reports the median and 99th percentile of lat on b, as
// p50-s and p99-s.
func ReportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
	b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-s")
}
