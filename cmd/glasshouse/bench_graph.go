package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/graph"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/oauth2"
)

// `glasshouse bench --graph` measures the Graph API end to end, as partners
// reach it: a `glasshouse serve` child process (bench_cluster.go), two
// partners registered and approved with the operator's commands, members
// who sign up over the member API and connect both partners through the
// real OAuth code flow (the login and consent pages, PKCE S256, the token
// exchange, with golang.org/x/oauth2 as a partner would), then N clients
// calling the Graph API closed-loop. At the end it verifies the whole log
// as `glasshouse audit verify` does and compares it with what the clients
// did: every receipt's entry in the log with its hash, and the counts per
// partner, scope, decision and reason equal.

// graphKind is one kind of Graph call the bench makes.
type graphKind int

const (
	graphMe      graphKind = iota // GET /me with the full partner's token
	graphFriends                  // GET /me/friends
	graphSend                     // POST /me/messages to a friend
	graphRead                     // GET a picked conversation's messages
	graphDenied                   // POST /me/messages with the limited partner's token: refused, insufficient_scope
	graphKinds
)

var graphKindNames = [graphKinds]string{"me", "friends", "send", "read", "denied"}

// graphKindRoute is each kind's route, as log entries name it.
var graphKindRoute = [graphKinds]string{graph.RouteMe, graph.RouteFriends, graph.RouteSend, graph.RouteMessages, graph.RouteSend}

// graphKindScopes is the scopes each kind's entry holds: those the call
// uses, or, refused, those it asked for (policy.Asked). GET /me uses
// profile and messages.read: the members consent to both, and pick a
// conversation, which /me lists.
var graphKindScopes = [graphKinds][]string{
	{glasshouse.ScopeMessagesRead, glasshouse.ScopeProfile},
	{glasshouse.ScopeFriends},
	{glasshouse.ScopeMessagesSend},
	{glasshouse.ScopeMessagesRead},
	{glasshouse.ScopeMessagesSend},
}

// graphKindWant is each kind's expected status and error code.
var graphKindWant = [graphKinds]struct {
	status int
	code   string
}{{200, ""}, {200, ""}, {201, ""}, {200, ""}, {403, "insufficient_scope"}}

// graphMix is the share of each kind in the calls, in percent.
type graphMix [graphKinds]int

// defaultGraphMix is the mix of --graph-mix mix.
var defaultGraphMix = graphMix{20, 40, 15, 15, 10}

func (m graphMix) String() string {
	var parts []string
	for k, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", graphKindNames[k], w))
		}
	}
	return strings.Join(parts, ", ")
}

// parseGraphMix reads --graph-mix: "mix" (the default shares), "friends"
// (friends reads only), or shares such as "me=20,friends=40,send=15,read=15,denied=10"
// that add up to 100.
func parseGraphMix(s string) (graphMix, error) {
	switch s {
	case "", "mix":
		return defaultGraphMix, nil
	case "friends":
		return graphMix{graphFriends: 100}, nil
	}
	var m graphMix
	total := 0
	for _, part := range splitList(s) {
		name, v, ok := strings.Cut(part, "=")
		k := slices.Index(graphKindNames[:], strings.TrimSpace(name))
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || k < 0 || err != nil || n < 0 || n > 100 {
			return m, fmt.Errorf("--graph-mix: %q: want mix, friends, or shares like me=20,friends=40,send=15,read=15,denied=10 (kinds %s)", part, strings.Join(graphKindNames[:], ", "))
		}
		m[k] += n
		total += n
	}
	if total != 100 {
		return m, fmt.Errorf("--graph-mix: the shares add up to %d, not 100", total)
	}
	return m, nil
}

// pick returns the kind for a number r in [0, 100).
func (m graphMix) pick(r int) graphKind {
	for k, w := range m {
		if r < w {
			return graphKind(k)
		}
		r -= w
	}
	return graphFriends
}

// graphBenchConfig is what `bench --graph` runs.
type graphBenchConfig struct {
	db         string
	clients    int
	duration   time.Duration
	requests   int // if > 0, instead of duration
	mix        graphMix
	json       bool
	cpuprofile string
}

// Sizes of the world: members each friends with benchGraphFriends others
// (a ring, as graph's BenchmarkFriends has), one per client up to
// benchGraphMaxMembers (sign-ups per address allow 100).
const (
	benchGraphFriends    = 10
	benchGraphMaxMembers = 64
	benchGraphRedirect   = "http://127.0.0.1/glasshouse-bench/callback"
	benchGraphPassword   = "bench-graph-password"
)

// graphPartner is one partner the bench registers.
type graphPartner struct {
	name, clientID, secret string
	scopes                 []string
	oauth                  *oauth2.Config
}

// graphMember is one member: their member API session, and their tokens
// for each partner (token sources that refresh as a partner's client
// does).
type graphMember struct {
	handle  string
	session string
	full    oauth2.TokenSource // the partner with every scope
	limited oauth2.TokenSource // the partner with profile and friends only
	friend  string             // a friend's pairwise id at the full partner: where sends go
	conv    string             // the picked conversation's id at the full partner
}

// graphCall is one Graph call as the client saw it.
type graphCall struct {
	kind    graphKind
	status  int
	code    string // the error code of a refusal
	receipt string // the Glasshouse-Receipt header
}

// graphResult is what a run measured.
type graphResult struct {
	Clients      int                `json:"clients"`
	Mix          string             `json:"mix"`
	Requests     int                `json:"requests"`
	Seconds      float64            `json:"seconds"`
	ReqPerSec    float64            `json:"req_per_s"`
	P50          time.Duration      `json:"p50_ns"`
	P99          time.Duration      `json:"p99_ns"`
	Kinds        map[string]kindLat `json:"kinds"`
	CPU          *graphCPU          `json:"cpu_us_per_request,omitempty"`
	Checkpoint   *latencySummary    `json:"access_to_checkpoint,omitempty"`
	Integrated   *latencySummary    `json:"access_to_integrated,omitempty"`
	Unexpected   int                `json:"unexpected"`
	Verification *graphVerification `json:"verification,omitempty"`
}

type kindLat struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

type latencySummary struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Lost    int           `json:"lost"` // samples whose checkpoint did not come within the wait
}

type graphCPU struct {
	Node     float64 `json:"node"`
	Postgres float64 `json:"postgres,omitempty"`
	Bench    float64 `json:"bench"`
	Total    float64 `json:"total"`
	Other    float64 `json:"other_processes"`
	Busy     float64 `json:"machine_busy_percent"`
}

// graphVerification is the end-of-run check of the log against the calls.
type graphVerification struct {
	LogSize       uint64       `json:"log_size"`
	AccessEntries uint64       `json:"access_entries"`
	Calls         int          `json:"calls"` // every Graph call of the run, setup included
	Receipts      int          `json:"receipts_checked"`
	Missing       int          `json:"missing"`    // receipts whose entry is not in the log
	Mismatched    int          `json:"mismatched"` // entries that differ from the call or its receipt
	Extra         int          `json:"extra"`      // access entries of no call
	Findings      int          `json:"findings"`
	Checked       int          `json:"granted_checked"`
	Counts        []countCheck `json:"counts"`
	CountsEqual   bool         `json:"counts_equal"`
	Problems      []string     `json:"problems,omitempty"`
}

type countCheck struct {
	accesslog.Count
	Calls uint64 `json:"calls"` // what the clients' calls say
}

func (v *graphVerification) ok() bool {
	return v.Missing == 0 && v.Mismatched == 0 && v.Extra == 0 && v.Findings == 0 && v.CountsEqual && len(v.Problems) == 0
}

// runBenchGraph is `glasshouse bench --graph`.
func runBenchGraph(ctx context.Context, cfg graphBenchConfig, stdout io.Writer) error {
	cl, err := startBenchCluster(ctx, benchClusterConfig{db: cfg.db, nodes: 1, profile: cfg.cpuprofile != "",
		// The per-partner rate limit (50/s by default) would measure the
		// limiter: lift it, as graph's BenchmarkFriends does.
		extra: []string{"--partner-rate", "1e9", "--partner-burst", "1000000000"}})
	if err != nil {
		return err
	}
	defer cl.stop()
	out := stdout
	if cfg.json {
		out = io.Discard
	}
	cl.describe(out)
	base := cl.nodes[0].url
	hc := newHTTPClient()
	setupStart := time.Now()
	b := &graphBench{base: base, http: hc, cfg: cfg}
	if err := b.setup(ctx, cl); err != nil {
		return err
	}
	fmt.Fprintf(out, "graph: partners %s (%s) and %s (%s), approved with `partner create` and `partner approve`; per-partner rate limit lifted\n",
		b.full.name, strings.Join(b.full.scopes, " "), b.limited.name, strings.Join(b.limited.scopes, " "))
	fmt.Fprintf(out, "  %d members, each with %d friends and a direct conversation, connected to both partners through the OAuth code flow (login and consent pages, PKCE S256, token exchange): setup %s\n",
		len(b.members), benchGraphFriends, time.Since(setupStart).Round(100*time.Millisecond))
	what := fmt.Sprintf("for %s", cfg.duration)
	if cfg.requests > 0 {
		what = fmt.Sprintf("%d requests", cfg.requests)
	}
	denied := ""
	if cfg.mix[graphDenied] > 0 {
		denied = fmt.Sprintf(" (denied: %s with the token of %s, which lacks messages.send)", graph.RouteSend, b.limited.name)
	}
	fmt.Fprintf(out, "run: %d clients, closed loop, %s; mix: %s%s\n", cfg.clients, what, cfg.mix, denied)

	res, err := b.run(ctx, cl)
	if err != nil {
		return err
	}
	res.print(out)
	v, err := b.verify(ctx, cl)
	if err != nil {
		return err
	}
	res.Verification = v
	v.print(out)
	if cfg.json {
		if err := printJSON(stdout, res); err != nil {
			return err
		}
	}
	var problems []string
	if res.Unexpected > 0 {
		problems = append(problems, fmt.Sprintf("%d calls were answered other than expected", res.Unexpected))
	}
	if !v.ok() {
		problems = append(problems, "the log does not account for every call")
	}
	if len(problems) > 0 {
		return fmt.Errorf("bench --graph: %s", strings.Join(problems, "; "))
	}
	return nil
}

// graphBench is one `bench --graph` run.
type graphBench struct {
	base    string
	http    *http.Client
	cfg     graphBenchConfig
	full    *graphPartner
	limited *graphPartner
	members []*graphMember
	logKey  string // the log's verifier key, from the data folder
	keyV    note.Verifier

	mu       sync.Mutex
	calls    []graphCall // every call, setup and run
	firstErr error       // the first unexpected answer
}

// setup registers the partners and the members, connects every member to
// both partners, and learns each member's friend and picked conversation
// at the full partner.
func (b *graphBench) setup(ctx context.Context, cl *benchCluster) error {
	key, err := os.ReadFile(filepath.Join(cl.data, "log-key.pub"))
	if err != nil {
		return fmt.Errorf("bench: the log's verifier key: %w", err)
	}
	b.logKey = strings.TrimSpace(string(key))
	if b.keyV, err = accesslog.NewVerifier(b.logKey); err != nil {
		return fmt.Errorf("bench: the log's verifier key: %w", err)
	}
	endpoint, err := discover(ctx, b.http, b.base)
	if err != nil {
		return err
	}
	store := []string{"--data", cl.data}
	if cl.nodeDB != "" {
		store = append(store, "--db", cl.nodeDB)
	}
	b.full = &graphPartner{name: "Bench Full", scopes: []string{"profile", "friends", "messages.send", "messages.read"}}
	b.limited = &graphPartner{name: "Bench Limited", scopes: []string{"profile", "friends"}}
	for _, p := range []*graphPartner{b.full, b.limited} {
		args := append([]string{"create", "--name", p.name, "--redirect-uri", benchGraphRedirect, "--scopes", strings.Join(p.scopes, ","),
			"--purpose", "glasshouse bench --graph", "--retention", "0"}, store...)
		if slices.Contains(p.scopes, "messages.read") {
			args = append(args, "--assessed", time.Now().Format(time.DateOnly))
		}
		var created bytes.Buffer
		if err := runPartner(ctx, args, &created, io.Discard); err != nil {
			return fmt.Errorf("bench: partner create: %w", err)
		}
		var creds partnerCredentials
		if err := json.Unmarshal(created.Bytes(), &creds); err != nil {
			return fmt.Errorf("bench: partner create printed %q: %w", created.String(), err)
		}
		p.clientID, p.secret = creds.ClientID, creds.ClientSecret
		if err := runPartner(ctx, append([]string{"approve", p.clientID}, store...), io.Discard, io.Discard); err != nil {
			return fmt.Errorf("bench: partner approve: %w", err)
		}
		p.oauth = &oauth2.Config{ClientID: p.clientID, ClientSecret: p.secret, Endpoint: endpoint, RedirectURL: benchGraphRedirect,
			Scopes: append([]string{"openid", "offline_access"}, p.scopes...)}
	}

	n := min(max(b.cfg.clients, benchGraphFriends+1), benchGraphMaxMembers)
	c := &benchClient{base: b.base, http: b.http}
	prefix := fmt.Sprintf("g%d_", time.Now().UnixNano()%1e6)
	b.members = make([]*graphMember, n)
	if err := parallel(ctx, n, func(i int) error {
		m := &graphMember{handle: fmt.Sprintf("%s%d", prefix, i)}
		if err := c.call(ctx, "", "POST", "/api/v1/members", map[string]string{"handle": m.handle, "email": m.handle + "@bench.example", "password": benchGraphPassword}, nil); err != nil {
			return fmt.Errorf("bench: sign-up: %w", err)
		}
		var s struct{ Token string }
		if err := c.call(ctx, "", "POST", "/api/v1/sessions", map[string]string{"handle": m.handle, "password": benchGraphPassword}, &s); err != nil {
			return fmt.Errorf("bench: sign-in: %w", err)
		}
		m.session = s.Token
		b.members[i] = m
		return nil
	}); err != nil {
		return err
	}
	// A ring of friends: i befriends the next benchGraphFriends/2, who
	// accept; then each member opens a direct conversation with the next
	// and says hello in it.
	if err := parallel(ctx, n, func(i int) error {
		for d := 1; d <= benchGraphFriends/2; d++ {
			other := b.members[(i+d)%n]
			var r struct{ Request struct{ ID int64 } }
			if err := c.call(ctx, b.members[i].session, "POST", "/api/v1/friend-requests", map[string]string{"handle": other.handle}, &r); err != nil {
				return fmt.Errorf("bench: friend request: %w", err)
			}
			if err := c.call(ctx, other.session, "POST", fmt.Sprintf("/api/v1/friend-requests/%d/accept", r.Request.ID), nil, nil); err != nil {
				return fmt.Errorf("bench: accept: %w", err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := parallel(ctx, n, func(i int) error {
		m := b.members[i]
		var conv struct{ ID int64 }
		if err := c.call(ctx, m.session, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": b.members[(i+1)%n].handle}, &conv); err != nil {
			return fmt.Errorf("bench: conversation: %w", err)
		}
		return c.call(ctx, m.session, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), map[string]string{"text": "hello from " + m.handle}, nil)
	}); err != nil {
		return err
	}
	// Each member connects both partners in a browser of their own: the
	// first flow signs them in on the login page, the second finds them
	// signed in. They tick every scope offered and every conversation.
	tctx := context.WithValue(ctx, oauth2.HTTPClient, b.http)
	if err := parallel(ctx, n, func(i int) error {
		m := b.members[i]
		br, err := newBenchBrowser(b.base, benchGraphRedirect, i)
		if err != nil {
			return err
		}
		for _, p := range []*graphPartner{b.full, b.limited} {
			tok, err := br.authorize(tctx, p.oauth, m.handle, benchGraphPassword)
			if err != nil {
				return fmt.Errorf("bench: %s connecting %s: %w", m.handle, p.name, err)
			}
			ts := p.oauth.TokenSource(tctx, tok)
			if p == b.full {
				m.full = ts
			} else {
				m.limited = ts
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// What a partner learns first: the member's profile with the picked
	// conversation, and their friends. These calls are recorded too.
	return parallel(ctx, n, func(i int) error {
		m := b.members[i]
		var me struct{ Conversations []string }
		if err := b.setupCall(ctx, m, graphMe, &me); err != nil {
			return err
		}
		var fr struct{ Friends []struct{ ID string } }
		if err := b.setupCall(ctx, m, graphFriends, &fr); err != nil {
			return err
		}
		if len(me.Conversations) == 0 || len(fr.Friends) != benchGraphFriends {
			return fmt.Errorf("bench: %s: /me lists %d conversations and /me/friends %d friends; want at least 1 and %d",
				m.handle, len(me.Conversations), len(fr.Friends), benchGraphFriends)
		}
		m.conv, m.friend = me.Conversations[0], fr.Friends[0].ID
		return nil
	})
}

// partnerCredentials are what `partner create` prints.
type partnerCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// discover reads the authorization server's endpoints from its OpenID
// configuration, as a partner does.
func discover(ctx context.Context, hc *http.Client, base string) (oauth2.Endpoint, error) {
	var d struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	c := &benchClient{base: base, http: hc}
	if err := c.call(ctx, "", "GET", "/.well-known/openid-configuration", nil, &d); err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("bench: discovery: %w", err)
	}
	if d.Authorization == "" || d.Token == "" {
		return oauth2.Endpoint{}, errors.New("bench: discovery names no authorization or token endpoint")
	}
	return oauth2.Endpoint{AuthURL: d.Authorization, TokenURL: d.Token, AuthStyle: oauth2.AuthStyleInHeader}, nil
}

// parallel runs f(0..n-1), eight at a time, and returns the first error.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 8)
	)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// setupCall makes one call of kind k for m during setup, which must be
// answered as expected; it decodes the body into out.
func (b *graphBench) setupCall(ctx context.Context, m *graphMember, k graphKind, out any) error {
	call, body, err := b.call(ctx, m, k, "setup")
	if err != nil {
		return err
	}
	if call.status != graphKindWant[k].status {
		return fmt.Errorf("bench: setup %s: %d %s", graphKindNames[k], call.status, body)
	}
	return json.Unmarshal(body, out)
}

// call makes one Graph call of kind k as m and records it; it returns the
// call, the body, and an error only if the call got no answer.
func (b *graphBench) call(ctx context.Context, m *graphMember, k graphKind, txn string) (graphCall, []byte, error) {
	ts := m.full
	if k == graphDenied {
		ts = m.limited
	}
	tok, err := ts.Token()
	if err != nil {
		return graphCall{}, nil, fmt.Errorf("bench: token: %w", err)
	}
	var req *http.Request
	switch k {
	case graphMe:
		req, err = http.NewRequestWithContext(ctx, "GET", b.base+"/graph/v1/me", nil)
	case graphFriends:
		req, err = http.NewRequestWithContext(ctx, "GET", b.base+"/graph/v1/me/friends", nil)
	case graphRead:
		req, err = http.NewRequestWithContext(ctx, "GET", b.base+"/graph/v1/me/conversations/"+url.PathEscape(m.conv)+"/messages?limit=20", nil)
	case graphSend, graphDenied:
		body, _ := json.Marshal(map[string]string{"to": m.friend, "text": "sent by glasshouse bench --graph", "client_txn_id": txn})
		req, err = http.NewRequestWithContext(ctx, "POST", b.base+"/graph/v1/me/messages", bytes.NewReader(body))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return graphCall{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := b.http.Do(req)
	if err != nil {
		return graphCall{}, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return graphCall{}, nil, err
	}
	c := graphCall{kind: k, status: resp.StatusCode, receipt: resp.Header.Get("Glasshouse-Receipt")}
	if resp.StatusCode >= 300 {
		var p struct{ Error string }
		json.Unmarshal(body, &p)
		c.code = p.Error
	}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	if (c.status != graphKindWant[k].status || c.code != graphKindWant[k].code || c.receipt == "") && b.firstErr == nil {
		b.firstErr = fmt.Errorf("%s %s: %d %s (receipt %q)", req.Method, req.URL.Path, c.status, bytes.TrimSpace(body), c.receipt)
	}
	b.mu.Unlock()
	return c, body, nil
}

// run drives the clients, closed-loop, for the duration or the count,
// while a sampler times receipts to their checkpoint.
func (b *graphBench) run(ctx context.Context, cl *benchCluster) (*graphResult, error) {
	cfg := b.cfg
	res := &graphResult{Clients: cfg.clients, Mix: cfg.mix.String(), Kinds: map[string]kindLat{}}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	smp := newCheckpointSampler(b.base, b.http, b.keyV)
	sctx, stopSampling := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		smp.loop(sctx)
	}()
	var prof *benchProfile
	if cfg.cpuprofile != "" {
		prof = &benchProfile{prefix: cfg.cpuprofile}
	}

	before := cl.sample()
	if prof != nil {
		if err := prof.start(ctx, cl, cfg.duration); err != nil {
			stopSampling()
			return nil, err
		}
	}
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		failures atomic.Int64
		lat      = make([][graphKinds][]time.Duration, cfg.clients)
		stop     = time.Now().Add(cfg.duration)
		start    = time.Now()
	)
	for i := range cfg.clients {
		wg.Go(func() {
			m := b.members[i%len(b.members)]
			rnd := mrand.New(mrand.NewPCG(uint64(i), 0x9e3779b97f4a7c15))
			for k := 0; ; k++ {
				if cfg.requests > 0 {
					if next.Add(1) > int64(cfg.requests) {
						return
					}
				} else if !time.Now().Before(stop) {
					return
				}
				kind := cfg.mix.pick(rnd.IntN(100))
				t0 := time.Now()
				c, _, err := b.call(ctx, m, kind, fmt.Sprintf("%s.%d.%d", runID, i, k))
				if err != nil {
					if failures.Add(1) > 10 || ctx.Err() != nil {
						return
					}
					continue
				}
				d := time.Since(t0)
				lat[i][kind] = append(lat[i][kind], d)
				if c.receipt != "" {
					smp.offer(c.receipt, t0.Add(d))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if prof != nil {
		if err := prof.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: profile: %v\n", err)
		}
	}
	cpu := cl.sample().since(before)
	if f := failures.Load(); f > 0 {
		stopSampling()
		<-samplerDone
		return nil, fmt.Errorf("bench --graph: %d calls failed without an answer", f)
	}

	var all []time.Duration
	for k := range graphKinds {
		var kl []time.Duration
		for i := range lat {
			kl = append(kl, lat[i][k]...)
		}
		if len(kl) > 0 {
			slices.Sort(kl)
			res.Kinds[graphKindNames[k]] = kindLat{N: len(kl), P50: pctDur(kl, 50), P99: pctDur(kl, 99)}
		}
		all = append(all, kl...)
	}
	slices.Sort(all)
	res.Requests, res.Seconds = len(all), elapsed.Seconds()
	res.ReqPerSec = float64(len(all)) / elapsed.Seconds()
	res.P50, res.P99 = pctDur(all, 50), pctDur(all, 99)
	if len(all) > 0 {
		res.CPU = newGraphCPU(cpu, cl, len(all))
	}
	b.mu.Lock()
	for _, c := range b.calls {
		if c.status != graphKindWant[c.kind].status || c.code != graphKindWant[c.kind].code || c.receipt == "" {
			res.Unexpected++
		}
	}
	if b.firstErr != nil {
		fmt.Fprintf(os.Stderr, "bench --graph: first unexpected answer: %v\n", b.firstErr)
	}
	b.mu.Unlock()

	// The samples taken: let them reach a checkpoint (at most every 2 s in
	// production; allow far more on a loaded machine).
	smp.stopOffers()
	smp.wait(ctx, 30*time.Second)
	stopSampling()
	<-samplerDone
	res.Checkpoint, res.Integrated = smp.summary()
	return res, nil
}

func pctDur(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func newGraphCPU(c *benchCPU, cl *benchCluster, n int) *graphCPU {
	per := func(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/float64(n)*10) / 10 }
	var node time.Duration
	for _, d := range c.nodes {
		node += d
	}
	ours := node + c.self
	g := &graphCPU{Node: per(node), Bench: per(c.self)}
	if cl.postmaster != 0 {
		g.Postgres = per(c.postgres)
		ours += c.postgres
	}
	g.Total = per(ours)
	if c.total > 0 {
		g.Busy = math.Round(1000*float64(c.busy)/float64(c.total)) / 10
		g.Other = per(max(0, c.busy-ours))
	}
	return g
}

func (r *graphResult) print(w io.Writer) {
	dur := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	fmt.Fprintf(w, "%-10s %8s %9s %9s %9s\n", "calls", "req/s", "p50", "p99", "requests")
	fmt.Fprintf(w, "%-10s %8.0f %9s %9s %9d\n", "all", r.ReqPerSec, dur(r.P50), dur(r.P99), r.Requests)
	for _, name := range graphKindNames {
		if k, ok := r.Kinds[name]; ok {
			fmt.Fprintf(w, "%-10s %8.0f %9s %9s %9d\n", name, float64(k.N)/r.Seconds, dur(k.P50), dur(k.P99), k.N)
		}
	}
	if c := r.CPU; c != nil {
		line := fmt.Sprintf("CPU µs per request: node %.0f", c.Node)
		if c.Postgres > 0 {
			line += fmt.Sprintf(", postgres %.0f", c.Postgres)
		}
		line += fmt.Sprintf(", bench client %.0f; together %.0f; machine %.0f%% busy, other processes %.0f µs/request", c.Bench, c.Total, c.Busy, c.Other)
		fmt.Fprintln(w, line)
	}
	for _, s := range []struct {
		name string
		l    *latencySummary
	}{{"access → checkpoint", r.Checkpoint}, {"access → integrated", r.Integrated}} {
		if s.l == nil || s.l.Samples == 0 {
			fmt.Fprintf(w, "%s: no sample\n", s.name)
			continue
		}
		lost := ""
		if s.l.Lost > 0 {
			lost = fmt.Sprintf(", %d samples lost (not covered within 30 s)", s.l.Lost)
		}
		fmt.Fprintf(w, "%s (%d sampled receipts): p50 %s, p99 %s%s\n", s.name, s.l.Samples, s.l.P50.Round(time.Millisecond), s.l.P99.Round(time.Millisecond), lost)
	}
	fmt.Fprintln(w, "  (from the response with its receipt to the first poll, every 50 ms, that finds /log/receipt/{event id} integrated and a signed checkpoint covering its index)")
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "UNEXPECTED: %d calls were answered otherwise than their kind should be (first one on stderr)\n", r.Unexpected)
	}
}

// checkpointSampler times sampled receipts to the first published
// checkpoint that covers their entry: every 250 ms it takes the latest
// receipt offered, and every 50 ms it polls /log/receipt/{event id} for
// the samples without an index yet, and the checkpoint.
type checkpointSampler struct {
	c   *benchClient
	rem *accesslog.Remote
	v   note.Verifier

	mu      sync.Mutex
	latest  string
	latestT time.Time
	closed  bool
	pending []*cpSample
	done    []*cpSample
}

type cpSample struct {
	event      string
	at         time.Time // the response's arrival
	index      uint64
	integrated time.Duration // 0 until integrated
	covered    time.Duration // 0 until a checkpoint covers it
}

func newCheckpointSampler(base string, hc *http.Client, v note.Verifier) *checkpointSampler {
	return &checkpointSampler{c: &benchClient{base: base, http: hc}, rem: accesslog.NewRemote(base, hc), v: v}
}

func (s *checkpointSampler) offer(receipt string, at time.Time) {
	s.mu.Lock()
	if !s.closed {
		s.latest, s.latestT = receipt, at
	}
	s.mu.Unlock()
}

func (s *checkpointSampler) stopOffers() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (s *checkpointSampler) loop(ctx context.Context) {
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	take := time.NewTicker(250 * time.Millisecond)
	defer take.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-take.C:
			s.mu.Lock()
			if s.latest != "" {
				if f := strings.Split(s.latest, "."); len(f) == 6 {
					s.pending = append(s.pending, &cpSample{event: f[1], at: s.latestT})
				}
				s.latest = ""
			}
			s.mu.Unlock()
		case <-poll.C:
			s.poll(ctx)
		}
	}
}

func (s *checkpointSampler) poll(ctx context.Context) {
	s.mu.Lock()
	pending := slices.Clone(s.pending)
	s.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	for _, p := range pending {
		if p.integrated != 0 {
			continue
		}
		var st struct {
			Status string
			Index  *uint64
		}
		if err := s.c.call(ctx, "", "GET", "/log/receipt/"+p.event, nil, &st); err == nil && st.Status == "integrated" && st.Index != nil {
			p.index, p.integrated = *st.Index, time.Since(p.at)
		}
	}
	raw, err := s.rem.ReadCheckpoint(ctx)
	if err != nil {
		return
	}
	cp, err := accesslog.OpenCheckpoint(raw, s.v)
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = slices.DeleteFunc(s.pending, func(p *cpSample) bool {
		if p.integrated != 0 && p.index < cp.Size {
			p.covered = now.Sub(p.at)
			s.done = append(s.done, p)
			return true
		}
		return false
	})
}

// wait waits, at most d, for the pending samples to be covered.
func (s *checkpointSampler) wait(ctx context.Context, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 {
			return
		}
	}
}

func (s *checkpointSampler) summary() (covered, integrated *latencySummary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cv, in []time.Duration
	for _, p := range s.done {
		cv = append(cv, p.covered)
		in = append(in, p.integrated)
	}
	slices.Sort(cv)
	slices.Sort(in)
	return &latencySummary{Samples: len(cv), P50: pctDur(cv, 50), P99: pctDur(cv, 99), Lost: len(s.pending)},
		&latencySummary{Samples: len(in), P50: pctDur(in, 50), P99: pctDur(in, 99)}
}

// verify checks the log as `glasshouse audit verify` does (accesslog.Verify
// with a Compliance check of every granted access against the agreements
// the log holds), then every call against it: each receipt verifies under
// the log's key and names an entry of the log that has its hash, the
// call's partner, route, decision and reason; no access entry belongs to
// no call; and the counts per partner, scope, decision and reason equal
// those of the calls.
func (b *graphBench) verify(ctx context.Context, cl *benchCluster) (*graphVerification, error) {
	b.mu.Lock()
	calls := slices.Clone(b.calls)
	b.mu.Unlock()
	v := &graphVerification{Calls: len(calls)}
	type want struct {
		call    graphCall
		receipt *accesslog.Receipt
	}
	byEvent := make(map[accesslog.EventID]want, len(calls))
	expected := map[accesslog.Count]uint64{}
	for _, c := range calls {
		p := b.full
		if c.kind == graphDenied {
			p = b.limited
		}
		decision := "granted"
		if c.status >= 300 {
			decision = "denied"
		}
		for _, s := range graphKindScopes[c.kind] {
			expected[accesslog.Count{Partner: p.clientID, Scope: s, Decision: decision, Reason: c.code}]++
		}
		if c.receipt == "" {
			v.Problems = append(v.Problems, fmt.Sprintf("a %s call answered %d carries no receipt", graphKindNames[c.kind], c.status))
			continue
		}
		r, err := accesslog.VerifyReceipt(c.receipt, b.keyV)
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("receipt %q: %v", c.receipt, err))
			continue
		}
		if _, dup := byEvent[r.EventID]; dup {
			v.Problems = append(v.Problems, fmt.Sprintf("two calls got receipts for event %s", r.EventID))
		}
		byEvent[r.EventID] = want{c, r}
	}

	state := filepath.Join(cl.data, "bench-audit-state.json")
	var rep *accesslog.Report
	var terms *accesslog.Compliance
	found := map[accesslog.EventID]bool{}
	// The last entries reach a checkpoint within seconds: verify until the
	// log holds every receipted call, or give up after a minute.
	for end := time.Now().Add(time.Minute); ; {
		terms = accesslog.NewCompliance()
		clear(found)
		v.Mismatched, v.Extra, v.AccessEntries = 0, 0, 0
		var mismatches []string
		var err error
		rep, err = accesslog.Verify(ctx, accesslog.VerifyConfig{
			URL: b.base, Key: b.logKey, StateFile: state, Client: &http.Client{Timeout: time.Minute},
			Agreement: terms.Agreement,
			Entry: func(index uint64, e *accesslog.Entry) {
				terms.Access(index, e)
				v.AccessEntries++
				w, ok := byEvent[e.EventID]
				if !ok {
					v.Extra++
					return
				}
				found[e.EventID] = true
				p := b.full
				if w.call.kind == graphDenied {
					p = b.limited
				}
				raw, err := e.MarshalBinary()
				wantDecision := accesslog.Granted
				if w.call.status >= 300 {
					wantDecision = accesslog.Denied
				}
				switch {
				case err != nil:
					mismatches = append(mismatches, fmt.Sprintf("entry %d: %v", index, err))
				case w.receipt.Check(raw) != nil:
					mismatches = append(mismatches, fmt.Sprintf("entry %d: %v", index, w.receipt.Check(raw)))
				case e.PartnerID != p.clientID || e.Endpoint != graphKindRoute[w.call.kind] || e.Decision != wantDecision || e.Reason != w.call.code:
					mismatches = append(mismatches, fmt.Sprintf("entry %d (%s %s %s %s) is not the %s call answered %d %s that has its receipt",
						index, e.PartnerID, e.Endpoint, e.Decision, e.Reason, graphKindNames[w.call.kind], w.call.status, w.call.code))
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("bench: the log does not verify: %w", err)
		}
		v.Mismatched = len(mismatches)
		if len(mismatches) > 0 {
			v.Problems = append(v.Problems, mismatches[:min(5, len(mismatches))]...)
		}
		if len(found) == len(byEvent) || time.Now().After(end) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	v.LogSize = rep.Checkpoint.Size
	v.Receipts = len(byEvent)
	v.Missing = len(byEvent) - len(found)
	v.Findings, v.Checked = len(terms.Findings), int(terms.Checked)
	v.CountsEqual = true
	keys := map[accesslog.Count]bool{}
	for k := range expected {
		keys[k] = true
	}
	logged := map[accesslog.Count]uint64{}
	for _, c := range rep.Counts {
		k := c
		k.N = 0
		logged[k] = c.N
		keys[k] = true
	}
	for _, k := range slices.SortedFunc(maps.Keys(keys), func(a, b accesslog.Count) int {
		return strings.Compare(a.Partner+a.Scope+a.Decision+a.Reason, b.Partner+b.Scope+b.Decision+b.Reason)
	}) {
		c := k
		c.N = logged[k]
		v.Counts = append(v.Counts, countCheck{Count: c, Calls: expected[k]})
		if logged[k] != expected[k] {
			v.CountsEqual = false
		}
	}
	return v, nil
}

func (v *graphVerification) print(w io.Writer) {
	fmt.Fprintf(w, "log: verified as `glasshouse audit verify` does, at size %d (%d access entries); %d granted accesses checked against the logged agreements, %d outside them\n",
		v.LogSize, v.AccessEntries, v.Checked, v.Findings)
	fmt.Fprintf(w, "  %d Graph calls (setup included), %d receipts verified under the log's key: %d without their entry in the log, %d entries unlike their call or receipt, %d access entries of no call\n",
		v.Calls, v.Receipts, v.Missing, v.Mismatched, v.Extra)
	fmt.Fprintf(w, "  %-22s %-14s %-8s %-20s %9s %9s\n", "partner", "scope", "decision", "reason", "log", "calls")
	for _, c := range v.Counts {
		mark := ""
		if c.N != c.Calls {
			mark = "  DIFFERENT"
		}
		fmt.Fprintf(w, "  %-22s %-14s %-8s %-20s %9d %9d%s\n", c.Partner, c.Scope, c.Decision, c.Reason, c.N, c.Calls, mark)
	}
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", p)
	}
	if v.ok() {
		fmt.Fprintln(w, "  every call is in the log, with its receipt's hash; the counts per partner, scope, decision and reason are equal")
	} else {
		fmt.Fprintln(w, "  THE LOG DOES NOT ACCOUNT FOR EVERY CALL")
	}
}

// benchBrowser is a member's browser for the OAuth pages: it keeps cookies
// and follows redirects, but stops at the partner's redirect URI.
type benchBrowser struct {
	base   string
	stopAt string
	client *http.Client
}

// newBenchBrowser returns the browser of member i. Members browse from
// loopback addresses of their own (127.0.1.x), as members come from
// addresses of their own: the authorization server limits authorization
// requests per address (one a second after a burst of 60), which members
// all on one address would exhaust.
func newBenchBrowser(base, stopAt string, i int) (*benchBrowser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &benchBrowser{base: base, stopAt: stopAt}
	dialer := &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%250))}}
	b.client = &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{DialContext: dialer.DialContext}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), stopAt) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	return b, nil
}

// benchPage is a page the browser fetched.
type benchPage struct {
	status   int
	url      *url.URL
	body     string
	location *url.URL // a redirect the browser stopped at
}

func (b *benchBrowser) do(ctx context.Context, method, u string, form url.Values) (*benchPage, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := &benchPage{status: resp.StatusCode, url: resp.Request.URL, body: string(rb)}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.location, err = resp.Request.URL.Parse(loc); err != nil {
			return nil, err
		}
	}
	return p, nil
}

var (
	benchFormRE  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	benchCSRFRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	benchScopeRE = regexp.MustCompile(`name="scope" value="([^"]+)"`)
	benchConvRE  = regexp.MustCompile(`name="conversation" value="([^"]+)"`)
)

// submit posts p's form with fields and its CSRF token.
func (b *benchBrowser) submit(ctx context.Context, p *benchPage, fields url.Values) (*benchPage, error) {
	action, csrf := benchFormRE.FindStringSubmatch(p.body), benchCSRFRE.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		return nil, fmt.Errorf("no form with a CSRF token on the page at %s (status %d)", p.url, p.status)
	}
	target, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, err
	}
	fields.Set("csrf", html.UnescapeString(csrf[1]))
	return b.do(ctx, "POST", target.String(), fields)
}

// authorize runs the code flow for cfg as the member handle: the
// authorization request with PKCE S256, a state and a nonce; the login page
// if it shows; the consent page, every scope and conversation offered
// ticked; then the code exchanged with the verifier.
func (b *benchBrowser) authorize(ctx context.Context, cfg *oauth2.Config, handle, password string) (*oauth2.Token, error) {
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(), randomString()
	p, err := b.do(ctx, "GET", cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)), nil)
	if err != nil {
		return nil, err
	}
	if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
		if p, err = b.submit(ctx, p, url.Values{"handle": {handle}, "password": {password}}); err != nil {
			return nil, err
		}
	}
	if p.status != http.StatusOK || !strings.Contains(p.body, `value="allow"`) {
		return nil, fmt.Errorf("want the consent page, got %d at %s", p.status, p.url)
	}
	form := url.Values{"action": {"allow"}}
	for _, m := range benchScopeRE.FindAllStringSubmatch(p.body, -1) {
		form.Add("scope", m[1])
	}
	for _, m := range benchConvRE.FindAllStringSubmatch(p.body, -1) {
		form.Add("conversation", m[1])
	}
	if p, err = b.submit(ctx, p, form); err != nil {
		return nil, err
	}
	if p.location == nil || !strings.HasPrefix(p.location.String(), cfg.RedirectURL) {
		return nil, fmt.Errorf("consent: want a redirect to %s, got %d at %s", cfg.RedirectURL, p.status, p.url)
	}
	q := p.location.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state || q.Get("code") == "" {
		return nil, fmt.Errorf("the redirect %s has another state or no code", p.location)
	}
	return cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
}

func randomString() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
