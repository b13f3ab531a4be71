package accesslog_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

// checkExactlyOnce reads the whole log back and checks that it holds each
// of the first n test entries exactly once, at the index the outbox recorded.
func checkExactlyOnce(t *testing.T, dir string, o *memOutbox, n int) {
	t.Helper()
	ctx := context.Background()
	l := accesslog.OpenLog(dir, MustKey(t).Verifier)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != uint64(n) {
		t.Fatalf("log size %d, want %d", cp.Size, n)
	}
	if p := o.pendingCount(); p != 0 {
		t.Errorf("%d rows still pending", p)
	}
	seen := map[accesslog.EventID]bool{}
	for i := range uint64(n) {
		b, err := l.Entry(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		e, err := accesslog.DecodeEntry(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if seen[e.EventID] {
			t.Fatalf("event %s appears twice", e.EventID)
		}
		seen[e.EventID] = true
		if idx, ok, _ := o.EventLogIndex(ctx, e.EventID); !ok || idx != i {
			t.Errorf("event %s is at %d, the store says %d (integrated %v)", e.EventID, i, idx, ok)
		}
	}
	for i := range n {
		if id := testEntry(t, i).EventID; !seen[id] {
			t.Errorf("event %s (test entry %d) is not in the log", id, i)
		}
	}
}

func TestFeederIntegratesInOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	o := newMemOutbox()
	fillOutbox(t, o, 0, 1000)
	f := MustFeeder(t, dir, o)
	MustDrain(t, f)
	checkExactlyOnce(t, dir, o, 1000)
	// Outbox order is log order.
	l := f.Log()
	for _, i := range []uint64{0, 255, 256, 999} {
		b, err := l.Entry(context.Background(), i, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if want := MustEncode(t, testEntry(t, int(i))); !bytes.Equal(b, want) {
			t.Errorf("entry %d differs from test entry %d", i, i)
		}
	}
}

// TestFeederCrashBeforeOutboxCommit appends a batch to Tessera, loses the
// store's commit (as a crash would), and restarts: the entries must be
// recorded from the log, not appended again.
func TestFeederCrashBeforeOutboxCommit(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "log")
	o := newMemOutbox()
	fillOutbox(t, o, 0, 300)
	f := MustFeeder(t, dir, o)
	MustDrain(t, f)

	fillOutbox(t, o, 300, 700)
	o.failIntegrated = 1
	if _, err := f.Feed(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("Feed: %v, want the simulated crash", err)
	}
	if n, _ := f.IntegratedSize(ctx); n != 700 {
		t.Fatalf("log holds %d entries after the append, want 700", n)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart on the same folder, with more rows waiting.
	fillOutbox(t, o, 700, 800)
	f2 := MustFeeder(t, dir, o)
	MustDrain(t, f2)
	checkExactlyOnce(t, dir, o, 800)
}

// TestFeederRecoversInProcess: the same, without a restart: the next Feed
// notices the log is ahead of the store.
func TestFeederRecoversInProcess(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "log")
	o := newMemOutbox()
	fillOutbox(t, o, 0, 500)
	f := MustFeeder(t, dir, o)
	o.failIntegrated = 2
	for range 2 {
		if _, err := f.Feed(ctx); !errors.Is(err, errCrash) {
			t.Fatalf("Feed: %v, want the simulated crash", err)
		}
	}
	MustDrain(t, f)
	checkExactlyOnce(t, dir, o, 500)
}

func TestFeederRefusesLogBehindStore(t *testing.T) {
	o := newMemOutbox()
	o.size = 10 // the store knows of 10 entries; the folder is empty
	f := MustFeeder(t, filepath.Join(t.TempDir(), "log"), o)
	if _, err := f.Feed(context.Background()); err == nil {
		t.Fatal("Feed accepted a log folder that is behind the store")
	}
}

// TestFeederRunConcurrent inserts rows while Run feeds, as the store does.
func TestFeederRunConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	o := newMemOutbox()
	f := MustFeeder(t, dir, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w * 250; i < (w+1)*250; i++ {
				e := testEntry(t, i)
				o.add(accesslog.Pending{EventID: e.EventID, Entry: MustEncode(t, e)})
				f.Notify()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for o.pendingCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	MustDrain(t, f)
	checkExactlyOnce(t, dir, o, 1000)
}

// BenchmarkFeeder measures entries per second from the outbox into a
// Tessera POSIX log on disk (outbox in memory; everything else real).
func BenchmarkFeeder(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		o := newMemOutbox()
		fillOutbox(b, o, 0, n)
		f := MustFeeder(b, filepath.Join(b.TempDir(), "log"), o)
		b.StartTimer()
		start := time.Now()
		for {
			k, err := f.Feed(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
		b.StopTimer()
		f.Close(ctx)
		b.StartTimer()
	}
}
