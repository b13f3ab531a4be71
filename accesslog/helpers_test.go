package accesslog_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// memOutbox is the store's outbox held in memory: a test double of the
// store only (a slice and a map under a mutex), with the contract of
// accesslog.Outbox and accesslog.EventIndex.
type memOutbox struct {
	mu      sync.Mutex
	rows    []accesslog.Pending // insertion order; head and later may be pending
	head    int
	pending map[accesslog.EventID]bool
	index   map[accesslog.EventID]uint64
	size    uint64
	// failIntegrated makes the next Integrated calls fail after doing
	// nothing, as if the process died between Tessera's append and the
	// store's commit.
	failIntegrated int
	calls          int
}

func newMemOutbox() *memOutbox {
	return &memOutbox{pending: map[accesslog.EventID]bool{}, index: map[accesslog.EventID]uint64{}}
}

func (o *memOutbox) add(p accesslog.Pending) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows = append(o.rows, p)
	o.pending[p.EventID] = true
}

func (o *memOutbox) Pending(ctx context.Context, limit int) ([]accesslog.Pending, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.head < len(o.rows) && !o.pending[o.rows[o.head].EventID] {
		o.head++
	}
	var out []accesslog.Pending
	for _, r := range o.rows[o.head:] {
		if len(out) == limit {
			break
		}
		if o.pending[r.EventID] {
			out = append(out, r)
		}
	}
	return out, nil
}

var errCrash = errors.New("simulated crash before the outbox commit")

func (o *memOutbox) Integrated(ctx context.Context, as []accesslog.Assigned) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.failIntegrated > 0 {
		o.failIntegrated--
		return errCrash
	}
	for _, a := range as {
		if i, ok := o.index[a.EventID]; ok {
			if i != a.Index {
				return fmt.Errorf("event %s already at index %d, now %d", a.EventID, i, a.Index)
			}
			continue
		}
		if !o.pending[a.EventID] {
			continue
		}
		delete(o.pending, a.EventID)
		o.index[a.EventID] = a.Index
		o.size = max(o.size, a.Index+1)
	}
	return nil
}

func (o *memOutbox) LogSize(ctx context.Context) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.size, nil
}

func (o *memOutbox) EventLogIndex(ctx context.Context, id accesslog.EventID) (uint64, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i, ok := o.index[id]; ok {
		return i, true, nil
	}
	if o.pending[id] {
		return 0, false, nil
	}
	return 0, false, glasshouse.Errorf(glasshouse.ENOTFOUND, "No access has event id %s.", id)
}

func (o *memOutbox) pendingCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

var (
	testPartners  = []string{"streamflix", "shopzon", "searchly"}
	testEndpoints = []string{"GET /graph/v1/me", "GET /graph/v1/me/friends", "POST /graph/v1/me/messages", "GET /graph/v1/me/conversations/{id}/messages"}
	testScopes    = [][]string{{"profile"}, {"friends"}, {"messages.send"}, {"messages.read"}}
	testStart     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testMaster    = []byte("0123456789abcdef0123456789abcdef")
)

// testEntry is the i-th entry of a deterministic stream: partner i%3,
// endpoint and scope i%4, every fifth one denied, member i%7.
func testEntry(tb testing.TB, i int) accesslog.Entry {
	tb.Helper()
	var id accesslog.EventID
	binary.BigEndian.PutUint64(id[8:], uint64(i)+1)
	id[0] = 0xe7
	k, err := accesslog.DeriveMemberKey(testMaster, secretOf(byte(i%7)+1))
	if err != nil {
		tb.Fatal(err)
	}
	e := accesslog.Entry{
		EventID: id, Time: testStart.Add(time.Duration(i) * time.Second),
		PartnerID: testPartners[i%3], AgreementVersion: 1,
		Endpoint: testEndpoints[i%4], Scopes: testScopes[i%4],
		Decision: accesslog.Granted, Items: uint32(i % 10),
		Tag: k.Tag(uint64(i/7) + 1),
	}
	if i%5 == 0 {
		e.Decision, e.Reason, e.Items = accesslog.Denied, "insufficient_scope", 0
	}
	return e
}

func MustEncode(tb testing.TB, e accesslog.Entry) []byte {
	tb.Helper()
	b, err := e.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fillOutbox adds entries from..to of the test stream.
func fillOutbox(tb testing.TB, o *memOutbox, from, to int) {
	tb.Helper()
	for i := from; i < to; i++ {
		e := testEntry(tb, i)
		o.add(accesslog.Pending{EventID: e.EventID, Entry: MustEncode(tb, e)})
	}
}

var testKeyOnce = sync.OnceValues(func() (*accesslog.Key, error) {
	_, k, err := accesslog.NewKey(accesslog.Origin("glasshouse.example"), nil)
	return k, err
})

func MustKey(tb testing.TB) *accesslog.Key {
	tb.Helper()
	k, err := testKeyOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustFeeder opens a feeder on dir; it is closed when the test ends.
func MustFeeder(tb testing.TB, dir string, o accesslog.Outbox) *accesslog.Feeder {
	tb.Helper()
	f, err := accesslog.NewFeeder(context.Background(), accesslog.FeederConfig{
		Dir: dir, Key: MustKey(tb), Outbox: o, CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close(context.Background()) })
	return f
}

// MustDrain feeds until the outbox is empty and a checkpoint covers the
// whole log, and returns that checkpoint.
func MustDrain(tb testing.TB, f *accesslog.Feeder) *accesslog.Checkpoint {
	tb.Helper()
	ctx := context.Background()
	for {
		n, err := f.Feed(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	size, err := f.IntegratedSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := f.Checkpoint(ctx)
		if err == nil && cp.Size == size {
			return cp
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no checkpoint of size %d after 10 s (last: %v, %v)", size, cp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MustLog builds a log of n test entries in a temporary folder and serves
// it; it returns the folder, the outbox and the server.
func MustLog(tb testing.TB, n int) (string, *memOutbox, *httptest.Server) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "log")
	o := newMemOutbox()
	fillOutbox(tb, o, 0, n)
	f := MustFeeder(tb, dir, o)
	MustDrain(tb, f)
	if err := f.Close(context.Background()); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(accesslog.NewHandler(accesslog.OpenLog(dir, MustKey(tb).Verifier), MustKey(tb).VerifierKey, o))
	tb.Cleanup(srv.Close)
	return dir, o, srv
}

func mustWrite(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
