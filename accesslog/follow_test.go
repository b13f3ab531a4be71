package accesslog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
	"golang.org/x/mod/sumdb/note"
)

// followedLog is a log that grows while the test follows it, served by a
// server that counts the requests for each kind of resource and can be
// told to fail some or to serve another checkpoint.
type followedLog struct {
	dir    string
	o      *memOutbox
	f      *accesslog.Feeder
	srv    *httptest.Server
	n      int // entries added so far
	served atomic.Int64

	mu       sync.Mutex
	requests map[string]int // "bundle 3", "tile 0/3", "checkpoint", …
	fail     func(path string) bool
	cosign   func(raw []byte) []byte
}

func newFollowedLog(t testing.TB) *followedLog {
	t.Helper()
	l := &followedLog{dir: filepath.Join(t.TempDir(), "log"), o: newMemOutbox(), requests: map[string]int{}}
	l.f = MustFeeder(t, l.dir, l.o)
	h := accesslog.NewHandler(accesslog.OpenLog(l.dir, MustKey(t).Verifier), MustKey(t).VerifierKey, l.o)
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.served.Add(1)
		p := strings.TrimPrefix(r.URL.Path, "/log/")
		l.mu.Lock()
		l.requests[resourceKind(p)]++
		fail, cosign := l.fail != nil && l.fail(p), l.cosign
		l.mu.Unlock()
		if fail {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if p == "checkpoint" && cosign != nil {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			w.Write(cosign(rec.Body.Bytes()))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// resourceKind names a log resource without its partial suffix: "bundle
// 3", "tile 1/0", "checkpoint", "key".
func resourceKind(p string) string {
	p, _, _ = strings.Cut(p, ".p/")
	switch {
	case strings.HasPrefix(p, "tile/entries/"):
		return "bundle " + strings.TrimLeft(strings.TrimPrefix(p, "tile/entries/"), "0x")
	case strings.HasPrefix(p, "tile/"):
		return "tile " + strings.TrimPrefix(p, "tile/")
	}
	return p
}

// counts returns the requests since the last call, and forgets them.
func (l *followedLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.requests
	l.requests = map[string]int{}
	return c
}

// grow appends entries n..to-1 of the test stream, with the agreement
// entries given by index, and waits for the checkpoint of the new size.
func (l *followedLog) grow(t testing.TB, to int, agreements map[int]*accesslog.AgreementEntry) *accesslog.Checkpoint {
	t.Helper()
	for ; l.n < to; l.n++ {
		if a := agreements[l.n]; a != nil {
			b, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			l.o.add(accesslog.Pending{EventID: a.EventID, Entry: b})
			continue
		}
		fillOutbox(t, l.o, l.n, l.n+1)
	}
	return MustDrain(t, l.f)
}

// approval is an agreement entry approving version v of partner's
// agreement with scopes.
func approval(n int, partner string, v uint32, action accesslog.Action, scopes ...string) *accesslog.AgreementEntry {
	var id accesslog.EventID
	id[0], id[15] = 0xa9, byte(n)
	return &accesslog.AgreementEntry{EventID: id, Time: testStart, PartnerID: partner, Version: v, Action: action,
		Scopes: scopes, Expires: testStart.Add(365 * 24 * time.Hour), TermsHash: [32]byte{byte(n) + 1}}
}

// recorded is what the callbacks of a follower saw.
type recorded struct {
	indexes    []uint64
	agreements []uint64
	findings   []string
}

func (r *recorded) config(url string) accesslog.FollowConfig {
	return accesslog.FollowConfig{URL: url, Workers: 4,
		Entry: func(i uint64, e accesslog.AnyEntry) {
			r.indexes = append(r.indexes, i)
			if e.Agreement != nil {
				r.agreements = append(r.agreements, i)
			}
		},
		Finding: func(f accesslog.Finding) { r.findings = append(r.findings, fmt.Sprintf("%d %s", f.Index, f.Rule)) },
	}
}

// checkSeq fails unless r saw exactly the entries from..to-1, in order.
func (r *recorded) checkSeq(t *testing.T, from, to uint64) {
	t.Helper()
	if uint64(len(r.indexes)) != to-from {
		t.Fatalf("%d entries handed over, want %d (%d..%d)", len(r.indexes), to-from, from, to-1)
	}
	for k, i := range r.indexes {
		if i != from+uint64(k) {
			t.Fatalf("entry %d handed over at position %d, want %d", i, k, from+uint64(k))
		}
	}
}

// roundTrip saves st as JSON and reads it back, as the watch command does.
func roundTrip(t *testing.T, st accesslog.FollowState) *accesslog.FollowState {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out accesslog.FollowState
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestFollowIncremental: a follower catches up with a log that mixes both
// kinds of entries, then follows it as it grows, fetching only the new
// bundles and tiles; a follower made from its saved state goes on from
// there without fetching anything old, with the agreement history it
// needs; and what they report equals what Verify and Compliance find over
// the whole log at once.
func TestFollowIncremental(t *testing.T) {
	ctx := context.Background()
	l := newFollowedLog(t)
	agreements := map[int]*accesslog.AgreementEntry{
		5:   approval(5, "streamflix", 1, accesslog.Approved, "messages.send", "profile"),
		400: approval(6, "shopzon", 1, accesslog.Approved, "friends"),
		900: approval(7, "streamflix", 1, accesslog.Suspended, "messages.send", "profile"),
	}
	l.grow(t, 700, agreements)
	var r recorded
	f, err := accesslog.NewFollower(r.config(l.srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	step, err := f.Advance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if step.Checkpoint.Size != 700 || step.From != 0 || step.To != 700 || step.Agreements != 2 {
		t.Fatalf("first step %+v", step)
	}
	r.checkSeq(t, 0, 700)
	if !slices.Equal(r.agreements, []uint64{5, 400}) {
		t.Fatalf("agreement entries at %v", r.agreements)
	}
	l.counts()
	findings := r.findings

	// Nothing new: one checkpoint request, nothing else.
	r = recorded{}
	if step, err = f.Advance(ctx); err != nil || step.To != 700 || len(r.indexes) != 0 {
		t.Fatalf("idle step %+v, %v, %d entries", step, err, len(r.indexes))
	}
	if c := l.counts(); len(c) != 1 || c["checkpoint"] != 1 {
		t.Fatalf("idle step fetched %v", c)
	}

	// The log grows from 700 (bundle 2 was partial) to 1000.
	l.grow(t, 1000, agreements)
	if step, err = f.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	r.checkSeq(t, 700, 1000)
	for res, n := range l.counts() {
		switch res {
		case "checkpoint", "bundle 2", "bundle 3", "tile 0/002", "tile 0/003", "tile 1/000":
			if n != 1 {
				t.Errorf("%s fetched %d times", res, n)
			}
		default:
			t.Errorf("fetched %s, which holds no new entry", res)
		}
	}

	// A new follower from the saved state, as after a restart.
	saved := roundTrip(t, f.State())
	if saved.Size != 1000 || len(saved.Range) == 0 || len(saved.Agreements) != 3 {
		t.Fatalf("saved state: size %d, %d range hashes, %d agreements", saved.Size, len(saved.Range), len(saved.Agreements))
	}
	var r2 recorded
	f2, err := accesslog.NewFollower(r2.config(l.srv.URL), saved)
	if err != nil {
		t.Fatal(err)
	}
	if h := f2.Compliance().Partners["streamflix"]; h == nil || h.Approved[1] == nil || !h.Suspended {
		t.Fatalf("restored history of streamflix: %+v", h)
	}
	if _, err := f2.Advance(ctx); err != nil || len(r2.indexes) != 0 {
		t.Fatalf("restart with nothing new: %v, %d entries", err, len(r2.indexes))
	}
	if c := l.counts(); c["checkpoint"] != 1 || c["key"] != 1 || len(c) != 2 {
		t.Fatalf("restart with nothing new fetched %v", c)
	}
	l.grow(t, 1300, agreements)
	if _, err := f2.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	r2.checkSeq(t, 1000, 1300)
	for res := range l.counts() {
		if strings.HasPrefix(res, "bundle ") && res != "bundle 3" && res != "bundle 4" && res != "bundle 5" {
			t.Errorf("after the restart the follower fetched %s", res)
		}
	}

	// The findings, over the three steps, are those of one pass over the
	// whole log.
	all := append(append(findings, r.findings...), r2.findings...)
	var r0 recorded
	c := accesslog.NewCompliance()
	if _, err := accesslog.Verify(ctx, accesslog.VerifyConfig{URL: l.srv.URL, Agreement: c.Agreement, Entry: c.Access}); err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Findings {
		r0.findings = append(r0.findings, fmt.Sprintf("%d %s", f.Index, f.Rule))
	}
	if len(all) == 0 || !slices.Equal(all, r0.findings) {
		t.Fatalf("incremental findings (%d) differ from one pass's (%d)", len(all), len(r0.findings))
	}
}

// TestFollowFromAuditState: a follower takes audit verify's state file (no
// range) and reads the log from the start, checking it against that
// state's root at its size.
func TestFollowFromAuditState(t *testing.T) {
	ctx := context.Background()
	l := newFollowedLog(t)
	l.grow(t, 300, nil)
	state := filepath.Join(t.TempDir(), "audit.json")
	rep, err := accesslog.Verify(ctx, accesslog.VerifyConfig{URL: l.srv.URL, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	l.grow(t, 500, nil)
	st := &accesslog.FollowState{State: accesslog.State{Key: MustKey(t).VerifierKey, Origin: rep.Checkpoint.Origin, Size: 300, Hash: rep.Checkpoint.Hash[:]}}
	var r recorded
	f, err := accesslog.NewFollower(r.config(l.srv.URL), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	r.checkSeq(t, 0, 500)
	// Another root at 300 than the log's: a fork.
	st.Hash = append([]byte{}, st.Hash...)
	st.Hash[0] ^= 1
	f, err = accesslog.NewFollower(r.config(l.srv.URL), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Advance(ctx); !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "fork") {
		t.Fatalf("a state of another root: %v, want a fork", err)
	}
}

// TestFollowDetectsTampering: after a follower verified 700 entries, the
// operator forks, truncates or rewrites the log; the next Advance fails
// with ErrTampered saying what differs, and hands over nothing of it.
func TestFollowDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint)
		want   string
	}{
		{"same size, another root", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			other := cp.Hash
			other[3] ^= 0x10
			mustWrite(t, filepath.Join(l.dir, "checkpoint"), signCheckpoint(t, cp.Size, other[:]))
		}, "fork: the checkpoint of size 700"},
		{"truncated", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			root := rootAt(t, accesslog.OpenLog(l.dir, MustKey(t).Verifier), 600, cp.Size)
			mustWrite(t, filepath.Join(l.dir, "checkpoint"), signCheckpoint(t, 600, root))
		}, "log truncated"},
		{"larger, not an extension", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			// A checkpoint of 1000 entries whose root is not that of the
			// 700 verified ones followed by the served new ones: another
			// history, whatever tiles the operator serves with it.
			big := l.grow(t, 1000, nil)
			other := big.Hash
			other[0] ^= 0x01
			mustWrite(t, filepath.Join(l.dir, "checkpoint"), signCheckpoint(t, 1000, other[:]))
		}, "fork: the checkpoint of size 1000"},
		{"changed new entry", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			l.grow(t, 1000, nil)
			flipByte(t, filepath.Join(l.dir, "tile/entries/003.p/232"), 50)
		}, "entry 768"},
		{"changed higher tile", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			l.grow(t, 1000, nil)
			flipByte(t, filepath.Join(l.dir, "tile/1/000.p/3"), 70)
		}, "tile 1/0: hash 2"},
		{"foreign key", func(t *testing.T, l *followedLog, cp *accesslog.Checkpoint) {
			_, k, err := accesslog.NewKey(cp.Origin, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, b64(cp.Hash[:]))}, k.Signer)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(l.dir, "checkpoint"), n)
		}, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFollowedLog(t)
			l.grow(t, 700, nil)
			var r recorded
			f, err := accesslog.NewFollower(r.config(l.srv.URL), nil)
			if err != nil {
				t.Fatal(err)
			}
			step, err := f.Advance(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r = recorded{}
			tt.tamper(t, l, step.Checkpoint)
			_, err = f.Advance(context.Background())
			if !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want ErrTampered saying %q", err, tt.want)
			}
			if st := f.State(); st.Size != 700 {
				t.Errorf("the state moved to %d", st.Size)
			}
			if tt.name != "changed new entry" && len(r.indexes) != 0 {
				t.Errorf("%d entries of the tampered log handed over", len(r.indexes))
			}
		})
	}
}

// TestFollowKeepsItsPlace: a network error in the middle of handing over
// entries leaves the follower where it stopped; the next Advance hands over
// the rest, each entry exactly once.
func TestFollowKeepsItsPlace(t *testing.T) {
	ctx := context.Background()
	l := newFollowedLog(t)
	l.grow(t, 1000, nil)
	var failed atomic.Bool
	l.fail = func(p string) bool {
		return strings.HasPrefix(p, "tile/entries/002") && failed.CompareAndSwap(false, true)
	}
	var r recorded
	f, err := accesslog.NewFollower(r.config(l.srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Advance(ctx)
	if err == nil || errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("with bundle 2 failing: %v, want a network error", err)
	}
	if f.Size() != 512 || f.State().Size != 0 {
		t.Fatalf("after the failure: handed over %d, state at %d; want 512 and 0", f.Size(), f.State().Size)
	}
	if _, err := f.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	r.checkSeq(t, 0, 1000)
	if f.State().Size != 1000 {
		t.Fatalf("state at %d", f.State().Size)
	}
}

// TestFollowWitnesses: with a witness policy, a checkpoint without the
// quorum's cosignatures is refused, by the follower and by Verify alike.
func TestFollowWitnesses(t *testing.T) {
	ctx := context.Background()
	l := newFollowedLog(t)
	l.grow(t, 300, nil)
	w := newCosigner(t, "witness.test/w")
	policy, err := accesslog.ParseWitnessPolicy([]string{"w " + w.VerifierKey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var r recorded
	cfg := r.config(l.srv.URL)
	cfg.Witnesses = policy
	f, err := accesslog.NewFollower(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Advance(ctx); !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "0 valid cosignatures") {
		t.Fatalf("follower, checkpoint not cosigned: %v", err)
	}
	if _, err := accesslog.Verify(ctx, accesslog.VerifyConfig{URL: l.srv.URL, Witnesses: policy}); !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "0 valid cosignatures") {
		t.Fatalf("verify, checkpoint not cosigned: %v", err)
	}
	l.mu.Lock()
	l.cosign = func(raw []byte) []byte { return w.Cosign(t, raw) }
	l.mu.Unlock()
	if _, err := f.Advance(ctx); err != nil {
		t.Fatalf("follower, cosigned: %v", err)
	}
	r.checkSeq(t, 0, 300)
	if _, err := accesslog.Verify(ctx, accesslog.VerifyConfig{URL: l.srv.URL, Witnesses: policy}); err != nil {
		t.Fatalf("verify, cosigned: %v", err)
	}
}

// BenchmarkFollow measures how fast a follower catches up with a log of
// 100,000 entries served over loopback HTTP: every tile and bundle
// fetched, every entry hashed, matched, decoded and checked by Compliance
// (agreement entries included), as `glasshouse audit watch` does before
// its own rules.
func BenchmarkFollow(b *testing.B) {
	const n = 100_000
	l := newFollowedLog(b)
	agreements := map[int]*accesslog.AgreementEntry{}
	for i, p := range testPartners {
		agreements[i] = approval(i, p, 1, accesslog.Approved, "friends", "messages.read", "messages.send", "profile")
	}
	l.grow(b, n, agreements)
	b.ResetTimer()
	start := time.Now()
	var entries uint64
	for b.Loop() {
		f, err := accesslog.NewFollower(accesslog.FollowConfig{URL: l.srv.URL, Entry: func(uint64, accesslog.AnyEntry) { entries++ }}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Advance(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(entries)/time.Since(start).Seconds(), "entries/s")
}
