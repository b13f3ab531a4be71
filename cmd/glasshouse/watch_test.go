package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/syncbuf"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/witnesstest"
)

// logProxy stands between a monitor and a server: it counts the log
// resources fetched and, when told to, serves another checkpoint, as an
// operator who forks the log would.
type logProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int // "checkpoint", "key", "tile/entries/000.p/12", …
	forged   []byte
}

func newLogProxy(t *testing.T, target string) *logProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &logProxy{requests: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := strings.TrimPrefix(r.URL.Path, "/log/")
		p.mu.Lock()
		p.requests[res]++
		forged := p.forged
		p.mu.Unlock()
		if res == "checkpoint" && forged != nil {
			w.Write(forged)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// counts returns the requests since the last call and forgets them.
func (p *logProxy) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.requests
	p.requests = map[string]int{}
	return c
}

func (p *logProxy) forge(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forged = b
}

// parseAlerts reads watch --json output: one alert per line.
func parseAlerts(t *testing.T, out string) []watchAlert {
	t.Helper()
	var alerts []watchAlert
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var a watchAlert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("watch --json printed %q: %v", sc.Text(), err)
		}
		alerts = append(alerts, a)
	}
	return alerts
}

func alertRules(alerts []watchAlert) []string {
	var rules []string
	for _, a := range alerts {
		rules = append(rules, a.Rule+" "+a.Partner)
	}
	return rules
}

// runningWatch is `glasshouse audit watch` running in the background.
type runningWatch struct {
	stdout, stderr syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error
}

func startWatch(t *testing.T, args ...string) *runningWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &runningWatch{cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- run(ctx, append([]string{"audit", "watch"}, args...), &w.stdout, &w.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// waitFor polls until ok holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, ok func() bool, show func() string) {
	t.Helper()
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("%s: not within 45 s; so far:\n%s", what, show())
}

// TestAuditWatch runs the monitor against a real server: it catches up
// (the partner's first agreement), resumes from its state without
// fetching anything old, then, running, alerts on a widened agreement and
// on each granted messages.read, and counts them in its metrics; a
// restart repeats none of them; and a forked checkpoint stops it with an
// error, running or with --once.
func TestAuditWatch(t *testing.T) {
	m := MustRunMain(t)
	px := newLogProxy(t, m.URL())
	data := []string{"--data", m.Config.Data}
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, data, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "profile,messages.send", "--purpose", "Share what you watch with a friend", "--retention", "30")
	waitForLog(t, m, 1)
	state := filepath.Join(t.TempDir(), "watch.json")
	once := func() []watchAlert {
		t.Helper()
		out, err := runCLI(t, "audit", "watch", px.URL, "--once", "--json", "--state", state)
		if err != nil {
			t.Fatalf("audit watch --once: %v\n%s", err, out)
		}
		return parseAlerts(t, out)
	}

	// Catching up: the partner's first agreement.
	if got := alertRules(once()); !slices.Equal(got, []string{"agreement_new " + creds.ClientID}) {
		t.Fatalf("catching up: alerts %q", got)
	}
	// A restart with nothing new fetches the key and the checkpoint only.
	px.counts()
	if got := once(); len(got) != 0 {
		t.Fatalf("restart with nothing new: alerts %q", alertRules(got))
	}
	if c := px.counts(); len(c) != 2 || c["checkpoint"] != 1 || c["key"] != 1 {
		t.Fatalf("restart with nothing new fetched %v", c)
	}

	// Running: the operator widens the agreement to messages.read, a member
	// consents, and the partner reads.
	w := startWatch(t, px.URL, "--json", "--state", state, "--interval", "100ms", "--metrics-addr", "127.0.0.1:0")
	if _, err := runCLI(t, "partner", "update", creds.ClientID, "--data", m.Config.Data, "--scopes", "profile,messages.send,messages.read",
		"--assessed", time.Now().UTC().Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "partner", "approve", creds.ClientID, "--data", m.Config.Data); err != nil {
		t.Fatal(err)
	}
	world := newTestWorld(t, m.URL())
	aliceTok, bobTok := world.member("alice"), world.member("bob")
	world.befriend(aliceTok, bobTok, "bob")
	var direct glasshouse.Conversation
	world.do(aliceTok, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "bob"}, &direct)
	app := newPartnerApp(t, m.URL(), creds.ClientID, creds.ClientSecret, redirect, "messages.send", "messages.read")
	tok, _ := app.authorize(consentOf("alice", "alice-bench-password", []string{"messages.send", "messages.read"}, direct.ID))
	var me struct {
		Conversations []string `json:"conversations"`
	}
	if st, body := app.graph(tok, "GET", "/graph/v1/me", nil, &me); st != 200 || len(me.Conversations) != 1 {
		t.Fatalf("GET /me: %d %s", st, body)
	}
	if st, body := app.graph(tok, "GET", "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", nil, nil); st != 200 {
		t.Fatalf("GET messages: %d %s", st, body)
	}
	want := []string{"agreement_widened " + creds.ClientID, "scope_granted " + creds.ClientID, "scope_granted " + creds.ClientID}
	waitFor(t, "alerts of the running monitor", func() bool {
		return len(parseAlerts(t, w.stdout.String())) >= len(want)
	}, func() string { return w.stdout.String() + w.stderr.String() })
	alerts := parseAlerts(t, w.stdout.String())
	if got := alertRules(alerts); !slices.Equal(got, want) {
		t.Fatalf("running: alerts %q, want %q", got, want)
	}
	if d := alerts[0].Detail; !strings.Contains(d, "adds messages.read") {
		t.Errorf("agreement_widened says %q", d)
	}
	if a := alerts[2]; !slices.Contains(a.Scopes, "messages.read") || !strings.Contains(a.Detail, "/messages") {
		t.Errorf("scope_granted for the read: %+v", a)
	}
	// The metrics count them.
	metricsURL := ""
	for _, line := range strings.Split(w.stderr.String(), "\n") {
		if u, ok := strings.CutPrefix(line, "metrics at "); ok {
			metricsURL = u
		}
	}
	if metricsURL == "" {
		t.Fatalf("no metrics address in %q", w.stderr.String())
	}
	metrics := func() string {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, line := range []string{`glasshouse_watch_alerts_total{rule="scope_granted"} 2`, `glasshouse_watch_alerts_total{rule="agreement_widened"} 1`,
		`glasshouse_watch_alerts_total{rule="outside_agreement"} 0`, `glasshouse_watch_entries_total{kind="agreement"} 1`, "glasshouse_watch_fetch_errors_total 0"} {
		if !strings.Contains(metrics(), "\n"+line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, metrics())
		}
	}
	w.cancel()
	if err := <-w.done; err != nil {
		t.Fatalf("stopped monitor: %v", err)
	}
	w.done <- nil // for the cleanup

	// A restart repeats nothing, and fetches no bundle already seen.
	size := func() uint64 {
		cp, err := m.Feeder.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	before, err := readWatchState(state)
	if err != nil {
		t.Fatal(err)
	}
	px.counts()
	if got := once(); len(got) != 0 {
		t.Fatalf("restart: alerts %q", alertRules(got))
	}
	if c := px.counts(); size() == before.Size {
		for res := range c {
			if strings.HasPrefix(res, "tile/") {
				t.Errorf("restart with nothing new fetched %s", res)
			}
		}
	}

	// The operator forks the log: another root at the same size, signed
	// with the log's key.
	st, err := readWatchState(state)
	if err != nil {
		t.Fatal(err)
	}
	other := slices.Clone(st.Hash)
	other[0] ^= 1
	forged, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", st.Origin, st.Size, base64.StdEncoding.EncodeToString(other))}, m.logKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	running := startWatch(t, px.URL, "--state", state, "--interval", "100ms")
	waitFor(t, "the monitor running", func() bool { return strings.Contains(running.stderr.String(), "watching") },
		func() string { return running.stderr.String() })
	px.forge(forged)
	select {
	case err := <-running.done:
		running.done <- err
		if !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(cliMessage(err), "NOT verified") || !strings.Contains(err.Error(), "fork") {
			t.Fatalf("running monitor on a fork: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("the running monitor did not stop on a fork:\n%s", running.stderr.String())
	}
	if _, err := runCLI(t, "audit", "watch", px.URL, "--once", "--state", state); !errors.Is(err, accesslog.ErrTampered) {
		t.Fatalf("watch --once on a fork: %v", err)
	}
}

// TestWatchDenialRate: more than N denials of one partner within the
// period raise one alert, not one per denial; the window slides with the
// entries' minutes.
func TestWatchDenialRate(t *testing.T) {
	var got []string
	r := &watchRules{enabled: map[string]bool{ruleDenials: true}, limit: denialLimit{3, 10 * time.Minute},
		emit: func(a watchAlert) { got = append(got, fmt.Sprintf("%d %s", a.Index, a.Partner)) }}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	deny := func(i uint64, partner string, minute int) {
		r.entry(i, accesslog.AnyEntry{Access: &accesslog.Entry{PartnerID: partner, Time: t0.Add(time.Duration(minute) * time.Minute),
			Endpoint: "GET /graph/v1/me", Scopes: []string{"profile"}, Decision: accesslog.Denied, Reason: "insufficient_scope"}})
	}
	deny(0, "a", 0)
	deny(1, "a", 1)
	deny(2, "b", 1)
	deny(3, "a", 2)
	deny(4, "a", 2) // the fourth of a within 10 minutes
	deny(5, "a", 3) // muted until minute 12
	deny(6, "a", 20)
	deny(7, "a", 21)
	deny(8, "a", 22)
	deny(9, "a", 22) // four again, after the mute
	if want := []string{"4 a", "9 a"}; !slices.Equal(got, want) {
		t.Fatalf("alerts %q, want %q", got, want)
	}
	var d denialLimit
	for in, want := range map[string]string{"100/1h": "100/1h", "5/10m": "5/10m", "off": "off", "7/90m": "7/1h30m"} {
		if err := d.Set(in); err != nil || d.String() != want {
			t.Errorf("--max-denials %s: %v, reads back as %q", in, err, d.String())
		}
	}
	for _, bad := range []string{"5", "x/1h", "5/30s", "0/1h"} {
		if err := d.Set(bad); err == nil {
			t.Errorf("--max-denials %s accepted", bad)
		}
	}
}

// TestAuditWitnessed: with a real witness (litewitness) cosigning the
// server's checkpoints, audit verify, report, trail and watch accept them
// with --witness, and refuse them when the policy names a witness that
// did not cosign.
func TestAuditWitnessed(t *testing.T) {
	w := witnesstest.Start(t, "witness.test/lw")
	m := mustStartNode(t, t.TempDir(), "", "", func(c *Config) { c.Witnesses = []string{w.Flag("lw")} })
	w.AddLog(m.logKey.Verifier.Name(), m.logKey.VerifierKey)
	policy, err := accesslog.ParseWitnessPolicy([]string{w.Flag("lw")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "https://partner.example/callback"
	mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "profile", "--purpose", "Greet the member by name", "--retention", "30")
	// Wait for a cosigned checkpoint of the whole log.
	waitFor(t, "a cosigned checkpoint", func() bool {
		size, err := m.Feeder.IntegratedSize(context.Background())
		if err != nil || size == 0 {
			return false
		}
		resp, err := http.Get(m.URL() + "/log/checkpoint")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		cp, err := policy.Open(raw, m.logKey.Verifier)
		return err == nil && cp.Size == size
	}, func() string { return "" })

	_, stranger, err := note.GenerateKey(nil, "witness.test/stranger")
	if err != nil {
		t.Fatal(err)
	}
	if stranger, err = fnote.VKeyToCosignatureV1(stranger); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, cmd := range [][]string{{"verify"}, {"report"}, {"trail", "--member-key", base64.StdEncoding.EncodeToString(make([]byte, 32))}, {"watch", "--once"}} {
		name := cmd[0]
		args := append([]string{"audit", name, m.URL()}, cmd[1:]...)
		// The witness that cosigns (given with its URL, as serve takes it).
		ok := append(slices.Clone(args), "--state", filepath.Join(dir, name+"-ok.json"), "--witness", w.Flag("lw"))
		if out, err := runCLI(t, ok...); err != nil {
			t.Errorf("audit %s with the cosigning witness: %v\n%s", name, err, out)
		}
		// A quorum of two, one of which never cosigned.
		bad := append(slices.Clone(args), "--state", filepath.Join(dir, name+"-bad.json"), "--witness", w.Flag("lw"), "--witness", "stranger "+stranger)
		_, err := runCLI(t, bad...)
		if !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), "1 valid cosignatures") || !strings.Contains(cliMessage(err), "NOT verified") {
			t.Errorf("audit %s with an absent witness in the quorum: %v", name, err)
		}
	}
}

// BenchmarkWatchRules measures the monitor's rules alone over a stream of
// entries (every fifth denied, one in four a granted messages.read), the
// part of `audit watch` that BenchmarkFollow in accesslog does not run:
// with it, the figure in docs/BENCHMARKS.md.
func BenchmarkWatchRules(b *testing.B) {
	f, err := accesslog.NewFollower(accesslog.FollowConfig{URL: "http://127.0.0.1:1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	alerts := 0
	r := &watchRules{enabled: map[string]bool{}, scopes: []string{"messages.read"}, limit: denialLimit{100, time.Hour}, follow: f,
		emit: func(watchAlert) { alerts++ }}
	for _, name := range watchRuleNames {
		r.enabled[name] = true
	}
	scopes := [][]string{{"profile"}, {"friends"}, {"messages.send"}, {"messages.read"}}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	entries := make([]accesslog.Entry, 1024)
	for i := range entries {
		entries[i] = accesslog.Entry{PartnerID: []string{"streamflix", "shopzon", "searchly"}[i%3], AgreementVersion: 1,
			Endpoint: "GET /graph/v1/me", Scopes: scopes[i%4], Decision: accesslog.Granted, Time: t0.Add(time.Duration(i) * time.Second).Truncate(time.Minute)}
		if i%5 == 0 {
			entries[i].Decision, entries[i].Reason = accesslog.Denied, "insufficient_scope"
		}
	}
	var i uint64
	for b.Loop() {
		r.entry(i, accesslog.AnyEntry{Access: &entries[i%1024]})
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
