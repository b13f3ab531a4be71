package accesslog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/syncbuf"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/sumdb/note"

	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
	"github.com/glasshouse/glasshouse/internal/witnesstest"
)

// cosigner is a witness key made in the test.
type cosigner = witnesstest.Cosigner

func newCosigner(tb testing.TB, name string) cosigner { return witnesstest.NewCosigner(tb, name) }

func TestParseWitnessPolicy(t *testing.T) {
	a, b := newCosigner(t, "witness.test/a"), newCosigner(t, "witness.test/b")
	_, plain, _ := note.GenerateKey(nil, "witness.test/plain")
	wa, wb := "a "+a.VerifierKey+" https://a.witness.test", "b "+b.VerifierKey+" http://127.0.0.1:7380/w"
	p, err := accesslog.ParseWitnessPolicy([]string{wa, wb}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum != 2 || len(p.Witnesses) != 2 || p.Witnesses[0].Name != "a" || p.Witnesses[0].KeyName() != "witness.test/a" ||
		p.Witnesses[1].URL != "http://127.0.0.1:7380/w" || p.Witnesses[0].String() != wa {
		t.Fatalf("policy %+v", p)
	}
	// Verifiers need no URL.
	if p, err := accesslog.ParseWitnessPolicy([]string{"a " + a.VerifierKey}, 1); err != nil || p.Witnesses[0].URL != "" {
		t.Fatalf("no URL: %+v, %v", p, err)
	}
	if p, err := accesslog.ParseWitnessPolicy(nil, 0); p != nil || err != nil {
		t.Fatalf("no witnesses: %+v, %v", p, err)
	}
	flipped := []byte(a.VerifierKey)
	flipped[len("witness.test/a+")] ^= 1 // the key hash
	for _, bad := range []struct {
		ws     []string
		quorum int
		want   string
	}{
		{nil, 1, "needs witnesses"},
		{[]string{wa}, 2, "want 1 to 1"},
		{[]string{wa}, -1, "want 1 to 1"},
		{[]string{wa, wa}, 0, "listed twice"},
		{[]string{wa, "c " + a.VerifierKey}, 0, "listed twice"},
		{[]string{"a " + plain}, 0, "not a cosignature/v1 key"},
		{[]string{"a " + string(flipped)}, 0, "does not match"},
		{[]string{"a"}, 0, "NAME VKEY [URL]"},
		{[]string{"a " + a.VerifierKey + " ftp://x"}, 0, "not an http(s) URL"},
		{[]string{"a " + a.VerifierKey + " https://x extra"}, 0, "NAME VKEY [URL]"},
		{[]string{"a+b " + a.VerifierKey}, 0, "may not hold"},
	} {
		if _, err := accesslog.ParseWitnessPolicy(bad.ws, bad.quorum); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q quorum %d: %v, want an error saying %q", bad.ws, bad.quorum, err, bad.want)
		}
	}
}

func TestWitnessPolicyOpen(t *testing.T) {
	key := MustKey(t)
	a, b, c := newCosigner(t, "witness.test/a"), newCosigner(t, "witness.test/b"), newCosigner(t, "witness.test/c")
	p, err := accesslog.ParseWitnessPolicy([]string{"a " + a.VerifierKey, "b " + b.VerifierKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := note.Sign(&note.Note{Text: key.Verifier.Name() + "\n3\nzGDIxZQfDtN2Omv3aU+HDud64Lr2O7JCbPL5L639xvM=\n"}, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(name string, cp []byte, found int) {
		t.Helper()
		_, err := p.Open(cp, key.Verifier)
		if !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), fmt.Sprintf("has %d valid cosignatures", found)) {
			t.Errorf("%s: %v, want ErrTampered saying %d were found", name, err, found)
		}
	}
	refused("log signature alone", raw, 0)
	refused("one of two", a.Cosign(t, raw), 1)
	refused("the same witness twice", a.Cosign(t, a.Cosign(t, raw)), 1)
	refused("an unlisted witness", c.Cosign(t, a.Cosign(t, raw)), 1)
	// b's cosignature of another checkpoint, copied onto this one.
	other4, err := note.Sign(&note.Note{Text: key.Verifier.Name() + "\n4\nzGDIxZQfDtN2Omv3aU+HDud64Lr2O7JCbPL5L639xvM=\n"}, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	copied := b.Cosign(t, other4)[len(other4):]
	refused("a cosignature of another checkpoint", append(a.Cosign(t, raw), copied...), 1)
	good := c.Cosign(t, b.Cosign(t, a.Cosign(t, raw)))
	cp, err := p.Open(good, key.Verifier)
	if err != nil || cp.Size != 3 {
		t.Fatalf("quorum met: %+v, %v", cp, err)
	}
	if got := p.Cosigners(good); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("cosigners %v", got)
	}
	// The log's own signature is still required.
	// A key of the log's name that is not the log's signs it instead.
	skey, _, err := note.GenerateKey(nil, key.Verifier.Name())
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.Sign(&note.Note{Text: key.Verifier.Name() + "\n3\nzGDIxZQfDtN2Omv3aU+HDud64Lr2O7JCbPL5L639xvM=\n"}, impostor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(b.Cosign(t, a.Cosign(t, other)), key.Verifier); err == nil {
		t.Error("a checkpoint without the log's signature was accepted")
	}
	// A nil policy checks the log's signature alone; existing verifiers
	// (OpenCheckpoint) ignore the cosignatures.
	if _, err := (*accesslog.WitnessPolicy)(nil).Open(raw, key.Verifier); err != nil {
		t.Error(err)
	}
	if _, err := accesslog.OpenCheckpoint(good, key.Verifier); err != nil {
		t.Error(err)
	}
}

// witnessed is a feeder whose checkpoints a real litewitness cosigns.
type witnessed struct {
	f       *accesslog.Feeder
	o       *memOutbox
	policy  *accesslog.WitnessPolicy
	monitor *accesslog.WitnessMonitor
	reg     *prometheus.Registry
	logs    *syncbuf.Buffer
}

func newWitnessed(t *testing.T, dir string, o *memOutbox, w *witnesstest.Witness) *witnessed {
	t.Helper()
	policy, err := accesslog.ParseWitnessPolicy([]string{w.Flag("lw")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := &witnessed{o: o, policy: policy, reg: prometheus.NewRegistry(), logs: &syncbuf.Buffer{}}
	x.monitor = accesslog.NewWitnessMonitor(policy, slog.New(slog.NewTextHandler(x.logs, nil)))
	x.reg.MustRegister(x.monitor)
	x.f, err = accesslog.NewFeeder(context.Background(), accesslog.FeederConfig{
		Dir: dir, Key: MustKey(t), Outbox: o, CheckpointInterval: 100 * time.Millisecond,
		Witnesses: policy, WitnessMonitor: x.monitor,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		x.f.Close(ctx)
	})
	return x
}

// feedAll feeds until the outbox is empty.
func (x *witnessed) feedAll(t *testing.T) uint64 {
	t.Helper()
	for {
		n, err := x.f.Feed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	size, err := x.f.IntegratedSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// waitCosigned waits (generously) until the published checkpoint has size
// and the witness's cosignature, and returns it.
func (x *witnessed) waitCosigned(t *testing.T, size uint64) []byte {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		cp, err := x.f.Checkpoint(context.Background())
		if err != nil {
			continue
		}
		last = cp.Raw
		if cp.Size == size {
			if _, err := x.policy.Open(cp.Raw, MustKey(t).Verifier); err != nil {
				t.Fatalf("checkpoint of size %d: %v", size, err)
			}
			return cp.Raw
		}
	}
	t.Fatalf("no cosigned checkpoint of size %d after a minute; last:\n%s\nlogs:\n%s", size, last, x.logs)
	return nil
}

// gauge reads a metric of reg with the given labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}) {
					continue next
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// TestFeederWitnessed: a real witness (litewitness, its own process)
// cosigns every checkpoint the feeder publishes, and the published
// checkpoint carries the cosignature that the policy verifies.
func TestFeederWitnessed(t *testing.T) {
	w := witnesstest.Start(t, "witness.test/lw")
	w.AddLog(MustKey(t).Verifier.Name(), MustKey(t).VerifierKey)
	o := newMemOutbox()
	x := newWitnessed(t, filepath.Join(t.TempDir(), "log"), o, w)
	fillOutbox(t, o, 0, 20)
	raw := x.waitCosigned(t, x.feedAll(t))
	if !bytes.Contains(raw, []byte("\n— witness.test/lw ")) {
		t.Errorf("no cosignature line in\n%s", raw)
	}
	fillOutbox(t, o, 20, 300)
	x.waitCosigned(t, x.feedAll(t))
	if g := gauge(t, x.reg, "glasshouse_log_witness_cosigned_size", "witness", "lw"); g != 300 {
		t.Errorf("glasshouse_log_witness_cosigned_size %v, want 300", g)
	}
	if g := gauge(t, x.reg, "glasshouse_log_witness_quorum_met"); g != 1 || !x.monitor.QuorumMet() {
		t.Errorf("quorum met %v", g)
	}
}

// TestWitnessRefusesFork: once the witness has cosigned the log at some
// size, another tree under the same key (a fork: one size, another root;
// then a checkpoint that does not extend what the witness saw) is refused
// by the witness and never cosigned, and the policy refuses its
// checkpoints.
func TestWitnessRefusesFork(t *testing.T) {
	key := MustKey(t)
	w := witnesstest.Start(t, "witness.test/lw")
	w.AddLog(key.Verifier.Name(), key.VerifierKey)
	o := newMemOutbox()
	x := newWitnessed(t, filepath.Join(t.TempDir(), "log"), o, w)
	fillOutbox(t, o, 0, 10)
	x.waitCosigned(t, x.feedAll(t))

	// The fork: the same key signs a tree of the same size with other
	// entries (as an operator showing someone another history would).
	forkDir := filepath.Join(t.TempDir(), "fork")
	fo := newMemOutbox()
	fillOutbox(t, fo, 1000, 1010)
	plain := MustFeeder(t, forkDir, fo)
	fork := MustDrain(t, plain)
	if err := plain.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(w.URL()+"/add-checkpoint", "", strings.NewReader("old 10\n\n"+string(fork.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 4 {
		t.Fatalf("the witness answered %s to a second root at size 10: %s", resp.Status, body)
	}
	t.Logf("witness, to a second root at size 10: %s %s", resp.Status, bytes.TrimSpace(body))

	// The forked log, fed on with the witness: its checkpoints are
	// refused and the unwitnessed one stays published.
	fx := newWitnessed(t, forkDir, fo, w)
	fillOutbox(t, fo, 1010, 1015)
	fx.feedAll(t)
	for deadline := time.Now().Add(time.Minute); fx.monitor.QuorumMet(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the witness did not refuse the fork within a minute; logs:\n%s", fx.logs)
		}
	}
	if g := gauge(t, fx.reg, "glasshouse_log_witness_requests_total", "witness", "lw", "result", "refused"); g < 1 {
		t.Errorf("refused requests counted %v", g)
	}
	if !strings.Contains(fx.logs.String(), "witness quorum lost") {
		t.Errorf("no log line on the lost quorum:\n%s", fx.logs)
	}
	cp, err := fx.f.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 10 || bytes.Contains(cp.Raw, []byte("— witness.test/lw")) {
		t.Fatalf("the fork's published checkpoint:\n%s", cp.Raw)
	}
	if _, err := fx.policy.Open(cp.Raw, key.Verifier); !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "has 0 valid cosignatures") {
		t.Fatalf("the fork's checkpoint under the policy: %v", err)
	}
	// The honest log goes on being cosigned.
	fillOutbox(t, o, 10, 30)
	x.waitCosigned(t, x.feedAll(t))
}

// TestFeederWitnessDown: while the witness is down the last cosigned
// checkpoint stays published (a log line and the metrics say why), and
// when it is back the log's checkpoints are cosigned again.
func TestFeederWitnessDown(t *testing.T) {
	key := MustKey(t)
	w := witnesstest.Start(t, "witness.test/lw")
	w.AddLog(key.Verifier.Name(), key.VerifierKey)
	o := newMemOutbox()
	x := newWitnessed(t, filepath.Join(t.TempDir(), "log"), o, w)
	fillOutbox(t, o, 0, 10)
	before := x.waitCosigned(t, x.feedAll(t))

	w.Stop()
	fillOutbox(t, o, 10, 25)
	if n := x.feedAll(t); n != 25 {
		t.Fatalf("integrated %d, want 25: appending goes on", n)
	}
	for deadline := time.Now().Add(time.Minute); x.monitor.QuorumMet(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lost witness was not noticed within a minute; logs:\n%s", x.logs)
		}
	}
	if g := gauge(t, x.reg, "glasshouse_log_witness_quorum_met"); g != 0 {
		t.Errorf("glasshouse_log_witness_quorum_met %v while the witness is down", g)
	}
	if g := gauge(t, x.reg, "glasshouse_log_witness_up", "witness", "lw"); g != 0 {
		t.Errorf("glasshouse_log_witness_up %v while the witness is down", g)
	}
	if logs := x.logs.String(); !strings.Contains(logs, "witness quorum lost: serving the last cosigned checkpoint") || !strings.Contains(logs, "unreachable") {
		t.Errorf("log lines:\n%s", logs)
	}
	// A few more publication attempts: the cosigned checkpoint stays.
	time.Sleep(500 * time.Millisecond)
	cp, err := x.f.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp.Raw, before) {
		t.Fatalf("the published checkpoint changed while the witness was down:\n%s", cp.Raw)
	}

	w.Restart()
	x.waitCosigned(t, 25)
	for deadline := time.Now().Add(time.Minute); !x.monitor.QuorumMet(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("quorum not met again")
		}
	}
	if !strings.Contains(x.logs.String(), "witness quorum met again") {
		t.Errorf("no log line on the quorum met again:\n%s", x.logs)
	}
}

// TestNewLogWithUnknownWitness: a new log starts even before its witness
// knows it (so that the operator can give the witness its key); its
// checkpoints are cosigned from when the witness has it.
func TestNewLogWithUnknownWitness(t *testing.T) {
	key := MustKey(t)
	w := witnesstest.Start(t, "witness.test/lw")
	o := newMemOutbox()
	x := newWitnessed(t, filepath.Join(t.TempDir(), "log"), o, w)
	fillOutbox(t, o, 0, 5)
	x.feedAll(t)
	for deadline := time.Now().Add(time.Minute); x.monitor.QuorumMet(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the witness's refusal of an unknown log was not noticed")
		}
	}
	w.AddLog(key.Verifier.Name(), key.VerifierKey)
	x.waitCosigned(t, 5)
}

// BenchmarkAccessToCosignedCheckpoint measures, for entries committed to
// the outbox at a steady 100 per second (the feeder notified as the store
// does), the time from the commit to the first published checkpoint that
// includes the entry: with the feeder's production settings (checkpoints
// at most every 2 s) and no witness, then with a real litewitness that
// must cosign every checkpoint. Reported: p50-s and p99-s.
func BenchmarkAccessToCosignedCheckpoint(b *testing.B) {
	for _, witness := range []bool{false, true} {
		b.Run(fmt.Sprintf("witness=%v", witness), func(b *testing.B) { benchAccessToCheckpoint(b, witness) })
	}
}

func benchAccessToCheckpoint(b *testing.B, witness bool) {
	const rate, n = 100, 1000
	key := MustKey(b)
	o := newMemOutbox()
	cfg := accesslog.FeederConfig{Dir: filepath.Join(b.TempDir(), "log"), Key: key, Outbox: o}
	var policy *accesslog.WitnessPolicy
	if witness {
		w := witnesstest.Start(b, "witness.test/lw")
		w.AddLog(key.Verifier.Name(), key.VerifierKey)
		var err error
		if policy, err = accesslog.ParseWitnessPolicy([]string{w.Flag("lw")}, 0); err != nil {
			b.Fatal(err)
		}
		cfg.Witnesses = policy
	}
	f, err := accesslog.NewFeeder(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fed sync.WaitGroup
	fed.Go(func() { f.Run(ctx) })
	defer func() { cancel(); fed.Wait(); f.Close(context.Background()) }()

	pubs := tlogtest.WatchPublications(func() (uint64, bool) {
		raw, err := os.ReadFile(filepath.Join(cfg.Dir, "checkpoint"))
		if err != nil {
			return 0, false
		}
		cp, err := policy.Open(raw, key.Verifier)
		if err != nil {
			return 0, false
		}
		return cp.Size, true
	})
	defer pubs.Stop()
	var lat []time.Duration
	next := 0
	for range b.N {
		committed := map[accesslog.EventID]time.Time{}
		tick := time.NewTicker(time.Second / rate)
		for range n {
			<-tick.C
			e := testEntry(b, next)
			next++
			o.add(accesslog.Pending{EventID: e.EventID, Entry: MustEncode(b, e)})
			committed[e.EventID] = time.Now()
			f.Notify()
		}
		tick.Stop()
		lat = append(lat, tlogtest.Latencies(b, pubs, committed, func(id accesslog.EventID) (uint64, bool) {
			i, ok, _ := o.EventLogIndex(ctx, id)
			return i, ok
		})...)
	}
	tlogtest.ReportLatencies(b, lat)
}
