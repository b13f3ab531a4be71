package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// runBench measures messaging over the public HTTP API against nodes it
// starts as child processes (so that each one's CPU time and resident
// memory can be read: see bench_cluster.go), or against --url.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("glasshouse bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "server to measure, or the comma-separated base URLs of several nodes of one deployment (default: start --nodes nodes on a fresh data folder)")
	db := fs.String("db", "", "with no --url: the --db of the started nodes (default SQLite in their fresh data folder); for a postgres:// URL, bench creates a new database on that server for the run and drops it after (the role needs CREATEDB); more than one node needs PostgreSQL")
	nodes := fs.Int("nodes", 1, "with no --url: start this many nodes (glasshouse serve, as child processes sharing one data folder and --db)")
	natsURL := fs.String("nats", "", "with no --url: the --nats of the started nodes (default with several nodes: an embedded nats-server on loopback, started for the run)")
	listeners := fs.Int("listeners", 0, "group members who only listen, each on a WebSocket stream, spread round-robin over the nodes (default one per node)")
	senders := fs.String("senders", "1,8,32", "comma-separated counts of concurrent senders, one closed-loop run each; sender i sends through node i mod --nodes")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	rate := fs.Int("rate", 1000, "messages/s of the paced run that measures delivery latency (0 skips it)")
	streams := fs.Int("streams", 0, "instead of messaging: open this many idle streams and report the server's resident memory")
	graphMode := fs.Bool("graph", false, "instead of messaging: measure the Graph API end to end (partners and members set up through the OAuth flow, --clients clients calling it), then check that the log accounts for every call")
	graphClients := fs.Int("clients", 32, "with --graph: concurrent Graph API clients")
	graphMixFlag := fs.String("graph-mix", "mix", "with --graph: `MIX` of calls: mix ("+defaultGraphMix.String()+"), friends (GET /graph/v1/me/friends only), or shares such as me=20,friends=40,send=15,read=15,denied=10")
	graphRequests := fs.Int("requests", 0, "with --graph: make this many calls instead of running for --duration")
	asJSON := fs.Bool("json", false, "with --graph: print the results as JSON")
	cpuprofile := fs.String("cpuprofile", "", "with started nodes: write CPU profiles of the closed-loop run with the most senders to `PREFIX`-node1.pprof, ... (each node's) and PREFIX-bench.pprof (this process's: the client, and the embedded nats-server if any)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: glasshouse bench [flags]

Sends messages into one group over HTTP and reports messages/s, send latency,
send-to-delivery latency on the listeners' WebSocket streams (on the sender's
node and on other nodes), whether every listener got every acknowledged message
exactly once and in order, and the CPU time each process spent per message;
or, with --streams, the server's resident memory with that many idle streams
open.

With --graph it measures the Graph API instead: it starts one node, registers
two partners, signs up members who connect both through the OAuth code flow
(login and consent pages, PKCE, token exchange), and has --clients clients
call GET /graph/v1/me, /me/friends, POST /me/messages, reads of picked
conversations and calls refused for a scope the token lacks (--graph-mix).
It reports requests/s, p50/p99 latency, CPU per request, and the time from a
response's receipt to a published checkpoint that covers its entry; then it
verifies the whole log as 'glasshouse audit verify' does and checks that
every call is in it, with counts per partner, scope and decision equal to
what the clients did.

With --nodes N (N > 1, --db postgres://...) it starts a cluster of N nodes on
one PostgreSQL database and one NATS server (--nats, or one it embeds), and
spreads senders and listeners round-robin across the nodes.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var messagingOnly, graphOnly []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "url", "nodes", "nats", "listeners", "senders", "rate", "streams":
			messagingOnly = append(messagingOnly, "--"+f.Name)
		case "clients", "graph-mix", "requests", "json":
			graphOnly = append(graphOnly, "--"+f.Name)
		}
	})
	if *graphMode {
		mix, err := parseGraphMix(*graphMixFlag)
		switch {
		case err != nil:
			return err
		case len(messagingOnly) > 0:
			return fmt.Errorf("%s: not with --graph, which starts one node of its own", strings.Join(messagingOnly, ", "))
		case *graphClients < 1 || *graphClients > 256:
			return fmt.Errorf("--clients must be from 1 to 256, not %d", *graphClients)
		case *graphRequests < 0:
			return fmt.Errorf("--requests must not be negative")
		case *cpuprofile != "" && *graphRequests > 0:
			return errors.New("--cpuprofile profiles for --duration: not with --requests")
		}
		return runBenchGraph(ctx, graphBenchConfig{db: *db, clients: *graphClients, duration: *duration, requests: *graphRequests,
			mix: mix, json: *asJSON, cpuprofile: *cpuprofile}, stdout)
	} else if len(graphOnly) > 0 {
		return fmt.Errorf("%s: only with --graph", strings.Join(graphOnly, ", "))
	}
	var counts []int
	for _, s := range strings.Split(*senders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("--senders must be numbers from 1 to 256, not %q", s)
		}
		counts = append(counts, n)
	}
	switch {
	case *nodes < 1 || *nodes > 16:
		return fmt.Errorf("--nodes must be from 1 to 16, not %d", *nodes)
	case *url != "" && (*nodes != 1 || *natsURL != "" || *cpuprofile != ""):
		return errors.New("--nodes, --nats and --cpuprofile are for nodes that bench starts: not with --url")
	case *nodes > 1 && isSQLite(*db):
		return fmt.Errorf("--nodes %d needs --db postgres://...: the nodes of a cluster share one PostgreSQL database", *nodes)
	case *listeners < 0 || *listeners > 256:
		return fmt.Errorf("--listeners must be from 0 to 256, not %d", *listeners)
	}

	var (
		cl    *benchCluster
		bases []string
	)
	if *url == "" {
		var extra []string
		if *streams > 0 {
			// One member holds every idle stream: lift the per-member limit.
			extra = []string{"--max-streams-per-member", "-1"}
		}
		var err error
		cl, err = startBenchCluster(ctx, benchClusterConfig{db: *db, nats: *natsURL, nodes: *nodes, profile: *cpuprofile != "", extra: extra})
		if err != nil {
			return err
		}
		defer cl.stop()
		bases = cl.urls()
	} else {
		bases = splitList(*url)
	}
	hc := newHTTPClient()
	var clients []*benchClient
	for _, b := range bases {
		clients = append(clients, &benchClient{base: strings.TrimRight(b, "/"), http: hc})
	}
	if *streams > 0 {
		if cl == nil {
			return errors.New("--streams needs the server started by bench (no --url), to read its memory")
		}
		return benchStreams(ctx, clients[0], cl.nodes[0], *streams, stdout)
	}
	if cl != nil {
		cl.describe(stdout)
	}
	nl := *listeners
	if nl == 0 {
		nl = len(clients)
	}
	w, err := setupWorld(ctx, clients, slices.Max(counts), nl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "senders and %d listener(s) round-robin over %d node(s): sender i and listener j on node (i mod %d)+1 and (j mod %d)+1\n",
		nl, len(clients), len(clients), len(clients))
	fmt.Fprintln(stdout, "delivery latency: from the start of the send to the frame on a listener's stream; local: listener on the sender's node; cross: on another node")
	fmt.Fprintf(stdout, "%-18s %8s %9s %9s %10s %10s %10s %10s %7s %9s\n", "run", "msgs/s", "send p50", "send p99", "local p50", "local p99", "cross p50", "cross p99", "sent", "complete")
	var failed []error
	profiled := false
	for _, n := range counts {
		var prof *benchProfile
		if *cpuprofile != "" && !profiled && n == slices.Max(counts) {
			prof, profiled = &benchProfile{prefix: *cpuprofile}, true
		}
		r, err := w.run(ctx, cl, n, *duration, 0, prof)
		if err != nil {
			return err
		}
		if err := r.print(stdout, fmt.Sprintf("%d senders", n), cl); err != nil {
			failed = append(failed, err)
		}
	}
	if *rate > 0 {
		r, err := w.run(ctx, cl, min(8, slices.Max(counts)), *duration, *rate, nil)
		if err != nil {
			return err
		}
		if err := r.print(stdout, fmt.Sprintf("paced %d/s", *rate), cl); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}
}

type benchClient struct {
	base string
	http *http.Client
}

// call sends a JSON request and decodes a JSON reply into out.
func (c *benchClient) call(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// member signs a member up and in, returning its bearer token.
func (c *benchClient) member(ctx context.Context, handle string) (string, error) {
	pw := handle + "-bench-password"
	if err := c.call(ctx, "", "POST", "/api/v1/members", map[string]string{"handle": handle, "email": handle + "@bench.example", "password": pw}, nil); err != nil {
		return "", err
	}
	var s struct{ Token string }
	err := c.call(ctx, "", "POST", "/api/v1/sessions", map[string]string{"handle": handle, "password": pw}, &s)
	return s.Token, err
}

// benchWorld is one group of senders and listeners, each member at home on
// one node: sender i on nodes[i%len(nodes)], listener j on
// nodes[j%len(nodes)].
type benchWorld struct {
	c         *benchClient // the first node, which setup uses
	nodes     []*benchClient
	tokens    []string // senders
	listeners []string // group members who only listen
	conv      int64
}

func (w *benchWorld) senderNode(i int) int   { return i % len(w.nodes) }
func (w *benchWorld) listenerNode(j int) int { return j % len(w.nodes) }

// setupWorld creates n senders and l listeners, all friends of the first
// sender, in one group. Each member signs up and in on its own node.
func setupWorld(ctx context.Context, nodes []*benchClient, n, l int) (*benchWorld, error) {
	w := &benchWorld{c: nodes[0], nodes: nodes}
	prefix := fmt.Sprintf("b%d_", time.Now().UnixNano()%1e6)
	var handles []string
	for i := range n + l {
		h := fmt.Sprintf("%s%d", prefix, i)
		node := nodes[w.senderNode(i)]
		if i >= n {
			h = fmt.Sprintf("%sl%d", prefix, i-n)
			node = nodes[w.listenerNode(i-n)]
		}
		tok, err := node.member(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		if i < n {
			w.tokens = append(w.tokens, tok)
		} else {
			w.listeners = append(w.listeners, tok)
		}
		handles = append(handles, h)
	}
	c := w.c
	others := slices.Concat(w.tokens[1:], w.listeners)
	for k, h := range handles[1:] {
		var r struct{ Request struct{ ID int64 } }
		if err := c.call(ctx, w.tokens[0], "POST", "/api/v1/friend-requests", map[string]string{"handle": h}, &r); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		if err := c.call(ctx, others[k], "POST", fmt.Sprintf("/api/v1/friend-requests/%d/accept", r.Request.ID), nil, nil); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	var conv struct{ ID int64 }
	if err := c.call(ctx, w.tokens[0], "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "bench", "members": handles[1:]}, &conv); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	w.conv = conv.ID
	return w, nil
}

// benchRecv is one frame a listener received.
type benchRecv struct {
	id, conv, seq int64
	txn           string
	at            time.Duration // since the run's epoch
}

// benchListener is one listener's stream during a run: it reconnects with
// its cursor when the server says it fell behind, as docs/api.md asks.
type benchListener struct {
	node    int
	recv    []benchRecv   // in arrival order; owned by the reading goroutine until done
	last    atomic.Int64  // id of the last frame received
	resumes int           // reconnections after "fell behind"
	err     error         // why the stream ended early, if it did
	done    chan struct{} // closed when the reading goroutine returns
}

type benchResult struct {
	sent      int
	elapsed   time.Duration
	send      []time.Duration
	local     []time.Duration // delivered to a listener on the sender's node
	cross     []time.Duration // delivered to a listener on another node
	hop       []time.Duration // a message's arrival on another node's listener minus its first on one of the sender's node
	delivery  []benchDelivery // one per listener
	resumes   int
	cpu       *benchCPU // nil without started nodes
	listeners int
}

func (r benchResult) print(w io.Writer, name string, cl *benchCluster) error {
	var bad []string
	for j, d := range r.delivery {
		if !d.complete() {
			bad = append(bad, fmt.Sprintf("listener %d: %s", j+1, d))
		}
	}
	complete := "yes"
	if len(bad) > 0 {
		complete = "NO"
	}
	fmt.Fprintf(w, "%-18s %8.0f %9s %9s %10s %10s %10s %10s %7d %9s\n", name, float64(r.sent)/r.elapsed.Seconds(),
		pct(r.send, 50), pct(r.send, 99), pct(r.local, 50), pct(r.local, 99), pct(r.cross, 50), pct(r.cross, 99), r.sent, complete)
	resumed := ""
	if r.resumes > 0 {
		resumed = fmt.Sprintf(", after %d reconnection(s) with the cursor (fell behind)", r.resumes)
	}
	if len(r.hop) > 0 {
		fmt.Fprintf(w, "  cross-node hop p50 %s, p99 %s: a message's arrival on a listener of another node minus its first arrival on a listener of the sender's node\n",
			pct(r.hop, 50), pct(r.hop, 99))
	}
	if len(bad) == 0 {
		fmt.Fprintf(w, "  every listener (%d) got every acknowledged message once, in order%s\n", r.listeners, resumed)
	}
	for _, b := range bad {
		fmt.Fprintf(w, "  INCOMPLETE %s\n", b)
	}
	if r.cpu != nil && r.sent > 0 {
		r.cpu.print(w, cl, r.sent)
	}
	if len(bad) > 0 {
		return fmt.Errorf("bench: %s: delivery incomplete (%s)", name, strings.Join(bad, "; "))
	}
	return nil
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	slices.Sort(d)
	return d[(len(d)-1)*p/100].Round(10 * time.Microsecond).String()
}

// benchDelivery is what one listener's stream got, against what was
// acknowledged.
type benchDelivery struct {
	received   int // frames
	missing    int // acknowledged messages never received
	duplicates int // frames of a message already received
	disorder   int // frames with a smaller id than one before (not counting duplicates)
	gaps       int // messages skipped within a conversation (by seq), acknowledged or not
}

func (d benchDelivery) complete() bool {
	return d.missing == 0 && d.duplicates == 0 && d.disorder == 0 && d.gaps == 0
}

func (d benchDelivery) String() string {
	return fmt.Sprintf("%d frames, %d acknowledged messages missing, %d duplicates, %d out of order, %d skipped by seq",
		d.received, d.missing, d.duplicates, d.disorder, d.gaps)
}

// checkDelivery compares a stream's frames, in arrival order, with the
// acknowledged messages it should hold: each exactly once, ids growing (the
// commit order), and no conversation's seq skipping a number after the
// first frame of it (which would be a committed message lost, acknowledged
// or not).
func checkDelivery(recv []benchRecv, acked map[int64]bool) benchDelivery {
	d := benchDelivery{received: len(recv)}
	seen := make(map[int64]bool, len(recv))
	lastSeq := map[int64]int64{}
	var maxID int64
	for _, r := range recv {
		if seen[r.id] {
			d.duplicates++
			continue
		}
		seen[r.id] = true
		if r.id < maxID {
			d.disorder++
		}
		maxID = max(maxID, r.id)
		if s, ok := lastSeq[r.conv]; ok && r.seq > s+1 {
			d.gaps += int(r.seq - s - 1)
		}
		lastSeq[r.conv] = max(lastSeq[r.conv], r.seq)
	}
	for id := range acked {
		if !seen[id] {
			d.missing++
		}
	}
	return d
}

// benchTxn is a send's client_txn_id: the run, the sender, the send's
// number and when it started (since the run's epoch, on the monotonic
// clock), which the listeners read back to time the delivery.
func benchTxn(run string, sender, k int, t0 time.Duration) string {
	return fmt.Sprintf("%s.%d.%d.%d", run, sender, k, t0)
}

func parseBenchTxn(run, txn string) (sender int, t0 time.Duration, ok bool) {
	p := strings.Split(txn, ".")
	if len(p) != 4 || p[0] != run {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(p[1])
	t, err2 := strconv.ParseInt(p[3], 10, 64)
	return i, time.Duration(t), err1 == nil && err2 == nil
}

// drainTimeout bounds the wait, after the last send, for every listener to
// reach the last acknowledged message.
const drainTimeout = 30 * time.Second

// run sends for d with n senders, closed-loop, or paced to rate messages/s
// when rate > 0, while every listener's stream times each delivery. With
// started nodes (cl) it reads each process's CPU time around the run, and
// with prof it profiles them.
func (w *benchWorld) run(ctx context.Context, cl *benchCluster, n int, d time.Duration, rate int, prof *benchProfile) (benchResult, error) {
	res := benchResult{listeners: len(w.listeners)}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	epoch := time.Now()
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	ls := make([]*benchListener, len(w.listeners))
	for j, tok := range w.listeners {
		l := &benchListener{node: w.listenerNode(j), done: make(chan struct{})}
		conn, err := w.openStreamOn(ctx, w.nodes[l.node], tok, -1)
		if err != nil {
			return res, err
		}
		ls[j] = l
		go w.listen(lctx, l, conn, tok, epoch)
	}
	defer func() {
		stopListening()
		for _, l := range ls {
			if l != nil {
				<-l.done
			}
		}
	}()

	var before benchCPUSample
	if cl != nil {
		before = cl.sample()
	}
	if prof != nil {
		if err := prof.start(ctx, cl, d); err != nil {
			return res, err
		}
	}
	var (
		tick     <-chan time.Time
		failures atomic.Int64
		wg       sync.WaitGroup
		acked    = make([][]int64, n)
		sendLat  = make([][]time.Duration, n)
	)
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	start := time.Now()
	stop := start.Add(d)
	for i := range n {
		wg.Go(func() {
			node := w.nodes[w.senderNode(i)]
			path := fmt.Sprintf("/api/v1/conversations/%d/messages", w.conv)
			for k := 0; time.Now().Before(stop); k++ {
				if tick != nil {
					<-tick
				}
				t0 := time.Since(epoch)
				txn := benchTxn(runID, i, k, t0)
				var msg struct{ ID int64 }
				err := node.call(ctx, w.tokens[i], "POST", path, map[string]string{"text": "bench message " + txn, "client_txn_id": txn}, &msg)
				if err != nil {
					if failures.Add(1) > 10 {
						return
					}
					continue
				}
				acked[i] = append(acked[i], msg.ID)
				sendLat[i] = append(sendLat[i], time.Since(epoch)-t0)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if prof != nil {
		if err := prof.stop(); err != nil {
			return res, err
		}
	}
	ack := map[int64]bool{}
	var maxAcked int64
	for i := range n {
		for _, id := range acked[i] {
			ack[id] = true
			maxAcked = max(maxAcked, id)
		}
		res.send = append(res.send, sendLat[i]...)
	}
	res.sent = len(ack)

	// Let every stream reach the last acknowledged message (ids grow in
	// commit order) before reading the figures.
	for end := time.Now().Add(drainTimeout); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		behind := false
		for _, l := range ls {
			select {
			case <-l.done:
				continue // ended early: its check tells
			default:
			}
			if l.last.Load() < maxAcked {
				behind = true
			}
		}
		if !behind {
			break
		}
	}
	if cl != nil {
		after := cl.sample()
		res.cpu = after.since(before)
	}
	stopListening()
	// firstLocal is when each message first reached a listener on its
	// sender's node, for the cross-node hop.
	firstLocal := map[int64]time.Duration{}
	for _, l := range ls {
		<-l.done
		for _, r := range l.recv {
			if i, _, ok := parseBenchTxn(runID, r.txn); ok && w.senderNode(i) == l.node {
				if t, seen := firstLocal[r.id]; !seen || r.at < t {
					firstLocal[r.id] = r.at
				}
			}
		}
	}
	for j, l := range ls {
		res.delivery = append(res.delivery, checkDelivery(l.recv, ack))
		res.resumes += l.resumes
		if l.err != nil {
			res.delivery[j].missing = max(res.delivery[j].missing, 1)
			fmt.Fprintf(os.Stderr, "bench: listener %d: %v\n", j+1, l.err)
		}
		seen := map[int64]bool{}
		for _, r := range l.recv {
			if seen[r.id] {
				continue
			}
			seen[r.id] = true
			i, t0, ok := parseBenchTxn(runID, r.txn)
			if !ok || !ack[r.id] {
				continue
			}
			if w.senderNode(i) == l.node {
				res.local = append(res.local, r.at-t0)
			} else {
				res.cross = append(res.cross, r.at-t0)
				if t, ok := firstLocal[r.id]; ok {
					res.hop = append(res.hop, r.at-t)
				}
			}
		}
	}
	if f := failures.Load(); f > 0 {
		return res, fmt.Errorf("bench: %d sends failed", f)
	}
	return res, nil
}

// listen reads l's stream until ctx ends, reconnecting from its last id
// when the server closes it because it fell behind.
func (w *benchWorld) listen(ctx context.Context, l *benchListener, conn *websocket.Conn, tok string, epoch time.Time) {
	defer close(l.done)
	defer func() { conn.CloseNow() }()
	for {
		_, b, err := conn.Read(ctx)
		if ctx.Err() != nil {
			return
		}
		if websocket.CloseStatus(err) == websocket.StatusTryAgainLater {
			conn.CloseNow()
			if conn, err = w.openStreamOn(ctx, w.nodes[l.node], tok, l.last.Load()); err != nil {
				if ctx.Err() == nil {
					l.err = fmt.Errorf("reconnecting after falling behind: %w", err)
				}
				return
			}
			l.resumes++
			continue
		}
		if err != nil {
			l.err = fmt.Errorf("stream ended: %w", err)
			return
		}
		at := time.Since(epoch)
		var f struct {
			Type    string
			Message struct {
				ID             int64  `json:"id"`
				ConversationID int64  `json:"conversation_id"`
				Seq            int64  `json:"seq"`
				ClientTxnID    string `json:"client_txn_id"`
			}
		}
		if err := json.Unmarshal(b, &f); err != nil {
			l.err = fmt.Errorf("frame %q: %w", b, err)
			return
		}
		if f.Type != "message" {
			continue
		}
		m := f.Message
		l.recv = append(l.recv, benchRecv{id: m.ID, conv: m.ConversationID, seq: m.Seq, txn: m.ClientTxnID, at: at})
		l.last.Store(max(l.last.Load(), m.ID))
	}
}

// openStream opens a WebSocket stream on the first node; after < 0 starts
// after the group's last message.
func (w *benchWorld) openStream(ctx context.Context, token string, after int64) (*websocket.Conn, error) {
	return w.openStreamOn(ctx, w.c, token, after)
}

// openStreamOn opens a WebSocket stream on node c.
func (w *benchWorld) openStreamOn(ctx context.Context, c *benchClient, token string, after int64) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/stream"
	if after >= 0 {
		u += fmt.Sprintf("?after=%d", after)
	} else {
		var page struct{ Messages []struct{ ID int64 } }
		if err := c.call(ctx, token, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", w.conv), nil, &page); err != nil {
			return nil, err
		}
		last := int64(0)
		if len(page.Messages) > 0 {
			last = page.Messages[0].ID
		}
		u += fmt.Sprintf("?after=%d", last)
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// benchStreams opens n idle streams and reports the server's resident memory
// before and after.
func benchStreams(ctx context.Context, c *benchClient, s *benchServer, n int, stdout io.Writer) error {
	tok, err := c.member(ctx, fmt.Sprintf("idle_%d", time.Now().UnixNano()%1e6))
	if err != nil {
		return err
	}
	w := &benchWorld{c: c}
	time.Sleep(500 * time.Millisecond)
	before, err := s.rssMiB()
	if err != nil {
		return err
	}
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for i := range n {
		conn, err := w.openStream(ctx, tok, 0)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, err)
		}
		conn.CloseRead(ctx)
		conns = append(conns, conn)
	}
	time.Sleep(2 * time.Second)
	after, err := s.rssMiB()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "idle streams: %d\nserver RSS before: %.1f MiB\nserver RSS with streams: %.1f MiB\nper stream: %.1f KiB\n",
		n, before, after, (after-before)*1024/float64(n))
	return nil
}
