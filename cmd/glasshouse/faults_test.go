package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/natstest"
	"github.com/glasshouse/glasshouse/internal/nginxtest"
	"github.com/glasshouse/glasshouse/internal/testbin"
	"golang.org/x/mod/sumdb/note"
)

// The fault tests of a cluster (issue 12): nodes run as separate
// processes of the built binary, behind the nginx configuration of
// deploy/, on one PostgreSQL database and one NATS server, as an operator
// runs them. Clients only ever talk to nginx, and behave as docs/api.md
// tells them to: a send is retried with its client_txn_id until it is
// acknowledged (after Retry-After when given), and a stream that ends is
// reopened with its cursor (after= for WebSocket, Last-Event-ID for
// server-sent events). What each test then checks is what the docs
// promise: every acknowledged message reaches every stream of its
// conversation exactly once and in order, and the transparency log holds
// every receipted access once and verifies.

// faultCluster is a cluster of `glasshouse serve` processes behind nginx.
type faultCluster struct {
	t      *testing.T
	bin    string
	db     string
	nats   string
	keys   string // the storage and log keys, as files every node is given
	logDir string // the log folder the nodes share
	proxy  *nginxtest.Proxy
	base   string // nginx: where clients go
	nodes  []*faultNode
}

// faultNode is one node: its own data folder and port.
type faultNode struct {
	addr    string // 127.0.0.1:PORT
	data    string
	logPath string // its stderr
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startFaultCluster builds the binary, starts nginx with deploy's
// configuration in front of n nodes, then the nodes, one at a time (so
// node 0 takes the log's feeder lock), and waits until nginx finds them
// healthy.
func startFaultCluster(t *testing.T, db, natsURL string, n int) *faultCluster {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	site, err := os.ReadFile("../../deploy/nginx/glasshouse.conf")
	if err != nil {
		t.Fatal(err)
	}
	c := &faultCluster{t: t, bin: bin, db: db, nats: natsURL, keys: t.TempDir(), logDir: t.TempDir()}
	var addrs []string
	for range n {
		addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
		addrs = append(addrs, addr)
		c.nodes = append(c.nodes, &faultNode{addr: addr, data: t.TempDir()})
	}
	c.proxy = nginxtest.Start(t, string(site), addrs...)
	c.base = c.proxy.URL
	logs := t.TempDir()
	for i, node := range c.nodes {
		node.logPath = filepath.Join(logs, fmt.Sprintf("node%d.log", i))
	}
	t.Cleanup(func() {
		for i, node := range c.nodes {
			if node.cmd != nil && !node.gone() {
				node.cmd.Process.Kill()
				<-node.exited
			}
			if t.Failed() {
				t.Logf("node %d (%s) log, its feeder's lines:\n%s\nlast lines:\n%s", i, node.addr, grepLines(node.logPath, "feeder", 20), tail(node.logPath, 20))
			}
		}
	})
	for i := range c.nodes {
		c.start(i)
	}
	nginxtest.WaitHealthy(t, c.base)
	return c
}

// start runs node i and returns once it serves.
func (c *faultCluster) start(i int) {
	c.t.Helper()
	node := c.nodes[i]
	cmd := exec.Command(c.bin, "serve", "--addr", node.addr, "--data", node.data, "--db", c.db, "--nats", c.nats,
		"--storage-key-file", filepath.Join(c.keys, "storage.key"), "--log-key-file", filepath.Join(c.keys, "log.key"),
		"--log-dir", c.logDir, "--trusted-proxies", "127.0.0.1", "--public-url", c.base, "--log-level", "info")
	logf, err := os.OpenFile(node.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	node.cmd, node.exited = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		started := false
		for sc.Scan() {
			if !started && strings.HasPrefix(sc.Text(), "glasshouse is running at ") {
				started = true
				close(ready)
			}
		}
		cmd.Wait()
		logf.Close()
		close(node.exited)
	}()
	select {
	case <-ready:
	case <-node.exited:
		c.t.Fatalf("node %d exited at start:\n%s", i, tail(node.logPath, 40))
	case <-time.After(streamDeadline):
		c.t.Fatalf("node %d did not start within %v", i, streamDeadline)
	}
}

func (n *faultNode) gone() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// kill ends node i with SIGKILL: no shutdown, no goodbye to its clients.
func (c *faultCluster) kill(i int) {
	c.t.Helper()
	if err := c.nodes[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-c.nodes[i].exited
}

// term stops node i as an operator does (SIGTERM): it closes its streams
// with "server shutting down" and finishes what is in flight.
func (c *faultCluster) term(i int) {
	c.t.Helper()
	if err := c.nodes[i].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-c.nodes[i].exited:
	case <-time.After(streamDeadline):
		c.t.Fatalf("node %d still runs %v after SIGTERM", i, streamDeadline)
	}
}

// metric sums the samples of a metric (a counter or gauge, any labels) on
// node i's /metrics, read directly.
func (c *faultCluster) metric(i int, name string) int {
	c.t.Helper()
	resp, err := http.Get("http://" + c.nodes[i].addr + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			f, _ := strconv.ParseFloat(rest[i+1:], 64)
			n += int(f)
		}
	}
	return n
}

// streamsOpen reads node i's open streams from its /metrics.
func (c *faultCluster) streamsOpen(i int) int { return c.metric(i, "glasshouse_streams_open") }

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The lines a node logs about the transparency log feeder: it runs it from
// the start, took it over, or stopped it.
const (
	feederRuns     = "this node runs the transparency log feeder"
	feederTookOver = "took over the transparency log feeder"
	feederStopped  = "transparency log feeder stopped"
)

// feederNode returns the running node that runs the log's feeder now, as
// the nodes' logs tell: its last line about the feeder says it runs it or
// took it over. It waits for one while the feeder moves.
func (c *faultCluster) feederNode() int {
	c.t.Helper()
	for end := time.Now().Add(streamDeadline); ; time.Sleep(100 * time.Millisecond) {
		for i, node := range c.nodes {
			if node.gone() {
				continue
			}
			var last string
			for _, line := range strings.Split(readFile(node.logPath), "\n") {
				if strings.Contains(line, feederRuns) || strings.Contains(line, feederTookOver) || strings.Contains(line, feederStopped) {
					last = line
				}
			}
			if last != "" && !strings.Contains(last, feederStopped) {
				return i
			}
		}
		if time.Now().After(end) {
			c.t.Fatalf("no node runs the transparency log feeder after %v", streamDeadline)
		}
	}
}

// readFile returns the file at path, or "" if it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// grepLines returns the first n lines of a file that contain s.
func grepLines(path, s string, n int) string {
	var out []string
	for _, line := range strings.Split(readFile(path), "\n") {
		if strings.Contains(line, s) && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// faultWorld is the members, conversations, senders and listeners of a
// fault test, all through one base URL (nginx).
type faultWorld struct {
	t       *testing.T
	base    string
	w       *testWorld
	http    *http.Client
	handles []string
	toks    []string
	convs   []faultConv

	mu       sync.Mutex
	acked    map[string]*glasshouse.Message // by client_txn_id
	byID     map[int64]*glasshouse.Message
	sends    []faultSend
	failures map[string]int // what failed sends were answered, for the report
	maxAcked atomic.Int64   // the highest acknowledged id so far

	stop    atomic.Bool // the senders finish their sends in flight and stop
	abort   atomic.Bool // the test ended: the senders give up at once
	senders sync.WaitGroup
	round   int // of senders, to keep client_txn_ids apart
}

type faultConv struct {
	id      int64
	members []int
}

// faultSend is one acknowledged send: when it was first tried, when it was
// acknowledged, and in how many attempts.
type faultSend struct {
	first, acked time.Time
	attempts     int
}

// newFaultWorld signs up six members through base and opens two direct
// conversations and two groups between them, so that every member has
// messages from others, direct and in groups.
func newFaultWorld(t *testing.T, base string) *faultWorld {
	t.Helper()
	fw := &faultWorld{
		t: t, base: base, w: newTestWorld(t, base),
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second},
		acked: map[string]*glasshouse.Message{}, byID: map[int64]*glasshouse.Message{}, failures: map[string]int{},
	}
	for i := range 6 {
		h := fmt.Sprintf("member%d", i)
		fw.handles = append(fw.handles, h)
		fw.toks = append(fw.toks, fw.w.member(h))
	}
	for _, f := range [][2]int{{0, 1}, {0, 2}, {0, 4}, {0, 5}, {1, 3}, {1, 4}, {1, 5}, {2, 3}} {
		fw.w.befriend(fw.toks[f[0]], fw.toks[f[1]], fw.handles[f[1]])
	}
	conv := func(creator int, body map[string]any, members ...int) {
		var c glasshouse.Conversation
		fw.w.do(fw.toks[creator], "POST", "/api/v1/conversations", body, &c)
		fw.convs = append(fw.convs, faultConv{id: c.ID, members: append([]int{creator}, members...)})
	}
	conv(0, map[string]any{"kind": "direct", "with": "member1"}, 1)
	conv(2, map[string]any{"kind": "direct", "with": "member3"}, 3)
	conv(0, map[string]any{"kind": "group", "title": "Zero's group", "members": []string{"member2", "member4", "member5"}}, 2, 4, 5)
	conv(1, map[string]any{"kind": "group", "title": "One's group", "members": []string{"member3", "member4", "member5"}}, 3, 4, 5)
	t.Cleanup(func() {
		fw.abort.Store(true)
		fw.stopSenders()
	})
	return fw
}

// startSenders starts two senders per conversation, each sending one
// message after another (with a short pause) until stopSenders.
func (fw *faultWorld) startSenders(pause time.Duration) {
	fw.stop.Store(false)
	fw.round++
	round := fw.round
	for c, conv := range fw.convs {
		for _, m := range conv.members[:2] {
			fw.senders.Go(func() {
				for k := 0; !fw.stop.Load(); k++ {
					if !fw.send(m, conv.id, fmt.Sprintf("r%d-c%d-m%d-%d", round, c, m, k)) {
						return
					}
					time.Sleep(pause)
				}
			})
		}
	}
}

// stopSenders stops the senders once their sends in flight are
// acknowledged, so that every message stored was acknowledged.
func (fw *faultWorld) stopSenders() {
	fw.stop.Store(true)
	fw.senders.Wait()
}

// sendsAcked returns how many sends were acknowledged.
func (fw *faultWorld) sendsAcked() int {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return len(fw.acked)
}

// waitAcked waits until n sends are acknowledged.
func (fw *faultWorld) waitAcked(n int) {
	fw.t.Helper()
	for end := time.Now().Add(streamDeadline); fw.sendsAcked() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			fw.t.Fatalf("%d of %d sends acknowledged after %v", fw.sendsAcked(), n, streamDeadline)
		}
	}
}

// apiError is a reply's body in the API's error form.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// post sends one message and returns the reply's status, body and
// Retry-After (0 if none), or the transport's error.
func (fw *faultWorld) post(base, tok string, conv int64, text string) (int, []byte, time.Duration, error) {
	b, _ := json.Marshal(map[string]string{"text": text, "client_txn_id": text})
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/messages", base, conv), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := fw.http.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, body, time.Duration(secs) * time.Second, err
}

// send sends text (also its client_txn_id) as member m until it is
// acknowledged: a failure is retried with the same client_txn_id, after
// Retry-After when the server gives one. It returns false if it gave up
// (after streamDeadline, or when the test ended).
func (fw *faultWorld) send(m int, conv int64, text string) bool {
	first := time.Now()
	for attempt := 1; ; attempt++ {
		status, body, retry, err := fw.post(fw.base, fw.toks[m], conv, text)
		switch {
		case err == nil && (status == http.StatusOK || status == http.StatusCreated):
			var msg glasshouse.Message
			if err := json.Unmarshal(body, &msg); err != nil || msg.ID == 0 || msg.Text != text || msg.ConversationID != conv {
				fw.t.Errorf("send %s: acknowledged with %s (%v)", text, body, err)
				return false
			}
			fw.ack(&msg, faultSend{first: first, acked: time.Now(), attempts: attempt})
			return true
		case err == nil && status != http.StatusTooManyRequests && status < 500:
			fw.t.Errorf("send %s: %d %s", text, status, body)
			return false
		}
		fw.mu.Lock()
		fw.failures[failureKind(status, body, err)]++
		fw.mu.Unlock()
		if fw.abort.Load() {
			return false
		}
		if time.Since(first) > streamDeadline {
			fw.t.Errorf("send %s: not acknowledged after %d attempts in %v (last: %d %s %v)", text, attempt, streamDeadline, status, body, err)
			return false
		}
		time.Sleep(max(retry, 100*time.Millisecond))
	}
}

// failureKind names a failed reply for the report: its status and, for
// the API's error form, its code; "html" for a page (nginx's own).
func failureKind(status int, body []byte, err error) string {
	if err != nil {
		return "transport error"
	}
	var e apiError
	if json.Unmarshal(body, &e) == nil && e.Error != "" && e.Message != "" {
		return fmt.Sprintf("%d %s", status, e.Error)
	}
	return fmt.Sprintf("%d not the API's error form: %.40q", status, body)
}

// ack records an acknowledged message; a client_txn_id acknowledged twice
// must name the same message.
func (fw *faultWorld) ack(msg *glasshouse.Message, s faultSend) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if prev, ok := fw.acked[msg.ClientTxnID]; ok && prev.ID != msg.ID {
		fw.t.Errorf("client_txn_id %s acknowledged as message %d, then %d", msg.ClientTxnID, prev.ID, msg.ID)
	}
	fw.acked[msg.ClientTxnID] = msg
	fw.byID[msg.ID] = msg
	fw.sends = append(fw.sends, s)
	for {
		cur := fw.maxAcked.Load()
		if msg.ID <= cur || fw.maxAcked.CompareAndSwap(cur, msg.ID) {
			break
		}
	}
}

// want returns the acknowledged ids member m must get, in commit order.
func (fw *faultWorld) want(m int) []int64 {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var ids []int64
	for _, c := range fw.convs {
		if !slices.Contains(c.members, m) {
			continue
		}
		for _, msg := range fw.byID {
			if msg.ConversationID == c.id {
				ids = append(ids, msg.ID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// checkHistory pages through each conversation's history oldest first and
// finds exactly the acknowledged messages, numbered 1, 2, 3... without gap.
func (fw *faultWorld) checkHistory() {
	fw.t.Helper()
	for _, c := range fw.convs {
		var got []*glasshouse.Message
		for after := int64(0); ; {
			var p glasshouse.MessagePage
			fw.w.do(fw.toks[c.members[0]], "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=200&after=%d", c.id, after), nil, &p)
			got = append(got, p.Messages...)
			if p.Next == 0 {
				break
			}
			after = p.Next
		}
		fw.mu.Lock()
		n := 0
		for _, msg := range fw.byID {
			if msg.ConversationID == c.id {
				n++
			}
		}
		for i, msg := range got {
			if a, ok := fw.byID[msg.ID]; !ok || a.Text != msg.Text {
				fw.t.Errorf("conversation %d holds message %d %q, never acknowledged", c.id, msg.ID, msg.Text)
			}
			if msg.Seq != int64(i+1) {
				fw.t.Errorf("conversation %d: position %d has seq %d", c.id, i, msg.Seq)
			}
		}
		fw.mu.Unlock()
		if len(got) != n {
			fw.t.Errorf("conversation %d holds %d messages; %d were acknowledged", c.id, len(got), n)
		}
	}
}

// sendReport summarizes the sends: how many, how many needed a retry, and
// the longest time from a first attempt to its acknowledgment.
func (fw *faultWorld) sendReport() string {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	retried, longest := 0, time.Duration(0)
	var from, to time.Time
	for _, s := range fw.sends {
		if s.attempts > 1 {
			retried++
		}
		longest = max(longest, s.acked.Sub(s.first))
		if from.IsZero() || s.first.Before(from) {
			from = s.first
		}
		if s.acked.After(to) {
			to = s.acked
		}
	}
	var kinds []string
	for k, n := range fw.failures {
		kinds = append(kinds, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d messages acknowledged (%.0f/s), %d after a retry, longest send %v; failed attempts: [%s]",
		len(fw.sends), float64(len(fw.sends))/to.Sub(from).Seconds(), retried, longest.Round(time.Millisecond), strings.Join(kinds, "; "))
}

// faultListener is one stream of a member, WebSocket or server-sent
// events, that reopens itself through nginx with its cursor whenever it
// ends, and keeps every message it is sent.
type faultListener struct {
	fw     *faultWorld
	member int
	sse    bool
	name   string
	done   chan struct{}

	mu    sync.Mutex
	got   []*glasshouse.Message
	last  int64 // the cursor
	conns []*faultConn
	errs  []string
}

// faultConn is one connection of a listener.
type faultConn struct {
	opened   time.Time // the stream was open (handshake done)
	ended    time.Time // zero while open
	cursor   int64     // it was opened after this id
	maxAcked int64     // the highest acknowledged id when it opened
	replayed int       // messages it sent with an id up to maxAcked: the backlog
	received int
	why      string // how it ended
}

// listen opens a WebSocket and an event stream for every member, and waits
// until all are open.
func (fw *faultWorld) listen(ctx context.Context) []*faultListener {
	fw.t.Helper()
	var ls []*faultListener
	for m := range fw.toks {
		for _, sse := range []bool{false, true} {
			l := &faultListener{fw: fw, member: m, sse: sse, name: fmt.Sprintf("%s's WebSocket", fw.handles[m]), done: make(chan struct{})}
			if sse {
				l.name = fmt.Sprintf("%s's event stream", fw.handles[m])
			}
			go l.run(ctx)
			ls = append(ls, l)
		}
	}
	for end := time.Now().Add(streamDeadline); ; time.Sleep(20 * time.Millisecond) {
		open := 0
		for _, l := range ls {
			l.mu.Lock()
			if len(l.conns) > 0 {
				open++
			}
			l.mu.Unlock()
		}
		if open == len(ls) {
			return ls
		}
		if time.Now().After(end) {
			fw.t.Fatalf("%d of %d streams open after %v", open, len(ls), streamDeadline)
		}
	}
}

// run keeps the stream open until ctx ends.
func (l *faultListener) run(ctx context.Context) {
	defer close(l.done)
	for ctx.Err() == nil {
		l.mu.Lock()
		cursor := l.last
		conns := len(l.conns)
		l.mu.Unlock()
		var err error
		if l.sse {
			err = l.runSSE(ctx, cursor, conns == 0)
		} else {
			err = l.runWS(ctx, cursor)
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSignedOut) {
			l.fail("%v", err)
			return
		}
		// A stream that was open reopens at once; a refused attempt is
		// retried after a pause, or Retry-After.
		l.mu.Lock()
		wasOpen := len(l.conns) > conns
		l.mu.Unlock()
		if wasOpen {
			continue
		}
		var retry retryAfter
		pause := 100 * time.Millisecond
		if errors.As(err, &retry) {
			pause = max(pause, time.Duration(retry))
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// retryAfter is a refused connection's Retry-After.
type retryAfter time.Duration

func (r retryAfter) Error() string { return fmt.Sprintf("retry after %v", time.Duration(r)) }

var errSignedOut = errors.New("stream ended: signed out (not expected here)")

func (l *faultListener) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// opened records a new connection.
func (l *faultListener) opened(cursor int64) *faultConn {
	c := &faultConn{opened: time.Now(), cursor: cursor, maxAcked: l.fw.maxAcked.Load()}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

// receive keeps a message the stream sent.
func (l *faultListener) receive(c *faultConn, m *glasshouse.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.ID <= l.last {
		l.errs = append(l.errs, fmt.Sprintf("message %d after %d: a duplicate or out of order", m.ID, l.last))
	}
	l.got = append(l.got, m)
	l.last = max(l.last, m.ID)
	c.received++
	if m.ID <= c.maxAcked {
		c.replayed++
	}
}

func (l *faultListener) ended(c *faultConn, why string) {
	l.mu.Lock()
	c.ended, c.why = time.Now(), why
	l.mu.Unlock()
}

// runWS runs one WebSocket connection, opened after cursor.
func (l *faultListener) runWS(ctx context.Context, cursor int64) error {
	u := fmt.Sprintf("ws%s/api/v1/stream?after=%d", strings.TrimPrefix(l.fw.base, "http"), cursor)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + l.fw.toks[l.member]}}})
	cancel()
	if err != nil {
		if resp != nil {
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			return retryAfter(time.Duration(secs) * time.Second)
		}
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	c := l.opened(cursor)
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			why := err.Error()
			switch websocket.CloseStatus(err) {
			case websocket.StatusPolicyViolation:
				l.ended(c, why)
				return errSignedOut
			case websocket.StatusTryAgainLater:
				why = "fell behind"
			}
			l.ended(c, why)
			return err
		}
		var f struct {
			Type    string
			Message *glasshouse.Message
		}
		if err := json.Unmarshal(b, &f); err != nil || f.Type != "message" || f.Message == nil {
			l.fail("frame %s (%v)", b, err)
			l.ended(c, "bad frame")
			return fmt.Errorf("frame %s", b)
		}
		l.receive(c, f.Message)
	}
}

// sseClient has no timeout: a stream lasts.
var sseClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// runSSE runs one event stream connection: the first opened with
// ?after=cursor, later ones resumed with Last-Event-ID, as EventSource
// does.
func (l *faultListener) runSSE(ctx context.Context, cursor int64, first bool) error {
	u := l.fw.base + "/api/v1/stream"
	if first {
		u += fmt.Sprintf("?after=%d", cursor)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+l.fw.toks[l.member])
	if !first {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(cursor, 10))
	}
	resp, err := sseClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return retryAfter(time.Duration(secs) * time.Second)
	}
	c := l.opened(cursor)
	r := bufio.NewReader(resp.Body)
	id := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			l.ended(c, err.Error())
			return err
		}
		line = strings.TrimRight(line, "\n")
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var f struct {
			Type    string
			Reason  string
			Message *glasshouse.Message
		}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			l.fail("event %s (%v)", data, err)
			l.ended(c, "bad event")
			return err
		}
		switch {
		case f.Type == "close" && strings.HasPrefix(f.Reason, "signed out"):
			l.ended(c, f.Reason)
			return errSignedOut
		case f.Type == "close":
			l.ended(c, f.Reason)
			return errors.New(f.Reason)
		case f.Type != "message" || f.Message == nil:
			l.fail("event %s", data)
			continue
		}
		if id != strconv.FormatInt(f.Message.ID, 10) {
			l.fail("event id %q for message %d", id, f.Message.ID)
		}
		id = ""
		l.receive(c, f.Message)
	}
}

// checkListeners waits until every stream has the messages of its member's
// conversations, then checks that it has exactly the acknowledged ones,
// each once, in commit order, and nothing more a moment later.
func (fw *faultWorld) checkListeners(ls []*faultListener) {
	fw.t.Helper()
	end := time.Now().Add(streamDeadline)
	for _, l := range ls {
		want := fw.want(l.member)
		for {
			l.mu.Lock()
			n, errs := len(l.got), slices.Clone(l.errs)
			l.mu.Unlock()
			if len(errs) > 0 {
				fw.t.Fatalf("%s: %s", l.name, strings.Join(errs, "; "))
			}
			if n >= len(want) {
				break
			}
			if time.Now().After(end) {
				fw.t.Fatalf("%s: %d of %d acknowledged messages after %v", l.name, n, len(want), streamDeadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond) // anything extra would show now
	for _, l := range ls {
		want := fw.want(l.member)
		l.mu.Lock()
		got := messageIDs(l.got)
		l.mu.Unlock()
		if !slices.Equal(got, want) {
			fw.t.Errorf("%s: got %d messages, want %d: %s", l.name, len(got), len(want), idsDiff(got, want))
		}
		fw.mu.Lock()
		for _, m := range l.got {
			if a := fw.byID[m.ID]; a != nil && a.Text != m.Text {
				fw.t.Errorf("%s: message %d is %q; %q was acknowledged", l.name, m.ID, m.Text, a.Text)
			}
		}
		fw.mu.Unlock()
	}
}

// idsDiff says where two id lists part.
func idsDiff(got, want []int64) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("first difference at %d: got %v, want %v", i, got[i:min(len(got), i+5)], want[i:min(len(want), i+5)])
}

// stopListeners ends the streams.
func stopListeners(cancel context.CancelFunc, ls []*faultListener) {
	cancel()
	for _, l := range ls {
		<-l.done
	}
}

// reconnectReport measures what an event at `at` cost the streams that it
// ended: how long until each was open again (through nginx, on another
// node), and how many messages each reopened stream replayed from its
// cursor (the backlog, sent before the live ones). It returns the number
// of streams that ended.
func reconnectReport(t *testing.T, what string, at time.Time, ls []*faultListener) int {
	t.Helper()
	var gaps []time.Duration
	var replayed []int
	var whys []string
	for _, l := range ls {
		l.mu.Lock()
		for i, c := range l.conns {
			if c.ended.IsZero() || c.ended.Before(at) || !c.opened.Before(at) {
				continue
			}
			whys = append(whys, c.why)
			if i+1 < len(l.conns) {
				next := l.conns[i+1]
				gaps = append(gaps, next.opened.Sub(at))
				replayed = append(replayed, next.replayed)
			}
		}
		l.mu.Unlock()
	}
	if len(gaps) == 0 {
		t.Logf("%s: no stream ended", what)
		return len(whys)
	}
	slices.Sort(gaps)
	slices.Sort(replayed)
	total := 0
	for _, n := range replayed {
		total += n
	}
	t.Logf("%s: %d of %d streams ended and reopened through nginx; open again %v (median) / %v (max) after; "+
		"messages replayed from the cursor per stream: median %d, max %d, total %d; duplicates: 0 (checked); ended by: %s",
		what, len(gaps), len(ls), gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond),
		replayed[len(replayed)/2], replayed[len(replayed)-1], total, summarize(whys))
	return len(whys)
}

// summarize counts equal strings.
func summarize(ss []string) string {
	n := map[string]int{}
	for _, s := range ss {
		n[s]++
	}
	var out []string
	for s, k := range n {
		out = append(out, fmt.Sprintf("%d × %q", k, s))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// faultPartner is a partner app whose Graph API calls, through nginx, each
// put an entry in the transparency log, with a signed receipt.
type faultPartner struct {
	t        *testing.T
	base     string
	token    string
	verifier note.Verifier
	client   *http.Client

	mu       sync.Mutex
	receipts map[accesslog.EventID]*accesslog.Receipt
	after    map[accesslog.EventID]bool // receipts given after mark
	mark     time.Time

	started bool
	stop    atomic.Bool
	done    chan struct{}
}

// newFaultPartner registers a partner with the CLI (on node 0's data
// folder and the shared database and storage key), and member0 connects
// it through the consent pages, through nginx.
func newFaultPartner(t *testing.T, c *faultCluster, fw *faultWorld) *faultPartner {
	t.Helper()
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", c.nodes[0].data, "--db", c.db, "--storage-key-file", filepath.Join(c.keys, "storage.key")},
		"--name", "Streamflix", "--redirect-uri", redirect, "--scopes", "friends", "--purpose", "Share what you watch with a friend", "--retention", "30")
	app := newPartnerApp(t, c.base, creds.ClientID, creds.ClientSecret, redirect, "friends")
	tok, _ := app.authorize(consentOf(fw.handles[0], fw.handles[0]+"-bench-password", nil))
	keyText, err := accesslog.NewRemote(c.base, nil).ReadVerifierKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := accesslog.NewVerifier(keyText)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultPartner{t: t, base: c.base, token: tok.AccessToken, verifier: v, client: &http.Client{Timeout: 30 * time.Second},
		receipts: map[accesslog.EventID]*accesslog.Receipt{}, after: map[accesslog.EventID]bool{}, done: make(chan struct{})}
	t.Cleanup(func() {
		if p.started {
			p.stopCalls()
		}
	})
	return p
}

// call makes one Graph API call and keeps its receipt; it reports whether
// the call was answered with data (and so logged).
func (p *faultPartner) call() bool {
	req, _ := http.NewRequest("GET", p.base+"/graph/v1/me/friends", nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		if resp.StatusCode == http.StatusTooManyRequests {
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(secs) * time.Second)
		}
		return false
	}
	r, err := accesslog.VerifyReceipt(resp.Header.Get(accesslog.ReceiptHeader), p.verifier)
	if err != nil {
		p.t.Errorf("Graph API answer without a valid receipt: %v", err)
		return false
	}
	p.mu.Lock()
	p.receipts[r.EventID] = r
	if !p.mark.IsZero() {
		p.after[r.EventID] = true
	}
	p.mu.Unlock()
	return true
}

// start calls the Graph API every interval, in the background, until
// stopCalls.
func (p *faultPartner) start(interval time.Duration) {
	p.started = true
	go func() {
		defer close(p.done)
		for !p.stop.Load() {
			p.call()
			time.Sleep(interval)
		}
	}()
}

func (p *faultPartner) stopCalls() {
	if p.stop.Swap(true) {
		return
	}
	<-p.done
}

// markNow starts counting the receipts given from now on.
func (p *faultPartner) markNow() {
	p.mu.Lock()
	p.mark = time.Now()
	p.mu.Unlock()
}

// checkLog waits until every receipted entry is integrated, then checks the
// log as an auditor does (glasshouse audit verify), and that it holds each
// receipted entry exactly once, where its receipt says, and no entry twice.
// It returns the log's size.
func (p *faultPartner) checkLog() uint64 {
	t := p.t
	t.Helper()
	p.mu.Lock()
	receipts := make(map[accesslog.EventID]*accesslog.Receipt, len(p.receipts))
	for id, r := range p.receipts {
		receipts[id] = r
	}
	p.mu.Unlock()
	index := map[accesslog.EventID]uint64{}
	for end := time.Now().Add(streamDeadline); len(index) < len(receipts); time.Sleep(200 * time.Millisecond) {
		for id := range receipts {
			if _, ok := index[id]; ok {
				continue
			}
			resp, err := p.client.Get(p.base + "/log/receipt/" + id.String())
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Status string
				Index  uint64
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && body.Status == "integrated" {
				index[id] = body.Index
			}
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d receipted entries integrated after %v: no feeder runs?", len(index), len(receipts), streamDeadline)
		}
	}
	cp := mustLogHolds(p.t, p.base, p.client, p.verifier, receipts, index)
	return cp.Size
}

// receiptsAfterMark counts the receipts given since markNow.
func (p *faultPartner) receiptsAfterMark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.after)
}

// TestFaultNodeKilled: three nodes behind nginx, senders and streams
// (WebSocket and SSE) busy through nginx and a partner calling the Graph
// API; the node that runs the log's feeder (node 0, unless the feeder
// moved) and holds some of the streams is killed with SIGKILL. Its streams reopen through nginx on the other
// nodes with their cursor, and every stream ends up with every
// acknowledged message once, in order; sends in flight are retried with
// their client_txn_id and stored once; another node takes the feeder over,
// the accesses after the kill get into the log, and the log verifies. It
// logs what the kill cost: how long streams took to reopen and how many
// messages each replayed.
func TestFaultNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of processes and kills one")
	}
	db := clusterPostgres(t)
	nats := natstest.Start(t)
	c := startFaultCluster(t, db, nats.URL(), 3)
	fw := newFaultWorld(t, c.base)
	partner := newFaultPartner(t, c, fw)

	ctx, cancel := context.WithCancel(context.Background())
	ls := fw.listen(ctx)
	defer stopListeners(cancel, ls)
	var open []int
	for i := range c.nodes {
		open = append(open, c.streamsOpen(i))
	}
	t.Logf("streams open per node before the kill: %v", open)
	// Node 0 took the feeder at the start, but a busy machine can move it
	// (a lock check the database did not answer in time): the node that
	// runs it now is the one to kill.
	victim := c.feederNode()
	if open[victim] == 0 {
		t.Fatalf("nginx put none of the %d streams on node %d, which runs the feeder (%v): the kill would test nothing", len(ls), victim, open)
	}

	fw.startSenders(20 * time.Millisecond)
	partner.start(200 * time.Millisecond)
	fw.waitAcked(150)

	before := fw.sendsAcked()
	tookBefore := make([]int, len(c.nodes))
	for i, node := range c.nodes {
		tookBefore[i] = strings.Count(readFile(node.logPath), feederTookOver)
	}
	killed := time.Now()
	c.kill(victim)
	partner.markNow()
	t.Logf("killed node %d, the feeder's, after %d acknowledged sends", victim, before)
	fw.waitAcked(before + 150)
	for end := time.Now().Add(streamDeadline); partner.receiptsAfterMark() < 5; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the Graph API gave %d receipts after the kill", partner.receiptsAfterMark())
		}
	}
	fw.stopSenders()
	partner.stopCalls()
	if t.Failed() {
		t.FailNow()
	}

	fw.checkListeners(ls)
	fw.checkHistory()
	if n := reconnectReport(t, "node kill", killed, ls); n < open[victim] {
		t.Errorf("%d streams ended at the kill; node %d held %d", n, victim, open[victim])
	}
	t.Logf("node kill: sends: %s", fw.sendReport())

	// The feeder moved: a surviving node says it took over, and the
	// accesses receipted after the kill are in the log.
	took, line := -1, ""
	for end := time.Now().Add(streamDeadline); took < 0; time.Sleep(100 * time.Millisecond) {
		for i, node := range c.nodes {
			if i != victim && strings.Count(readFile(node.logPath), feederTookOver) > tookBefore[i] {
				lines := strings.Split(grepLines(node.logPath, feederTookOver, tookBefore[i]+1), "\n")
				took, line = i, lines[len(lines)-1]
				break
			}
		}
		if took < 0 && time.Now().After(end) {
			t.Fatal("no surviving node took over the transparency log feeder")
		}
	}
	after := "?"
	if v, ok := strings.CutPrefix(strings.Fields(line)[0], "time="); ok {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			after = at.Sub(killed).Round(time.Millisecond).String()
		}
	}
	size := partner.checkLog()
	t.Logf("node kill: node %d took over the log's feeder %s after the kill; the log holds %d entries, %d receipts of them given after the kill, and verifies",
		took, after, size, partner.receiptsAfterMark())
}

// TestFaultNATSRestart: two nodes behind nginx under load, and the NATS
// server stops. Streams stay open and get the other node's messages from
// the database while NATS is down; when it is back the nodes reconnect,
// and every stream has every acknowledged message once, in order.
func TestFaultNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of processes")
	}
	db := clusterPostgres(t)
	nats := natstest.Start(t)
	c := startFaultCluster(t, db, nats.URL(), 2)
	fw := newFaultWorld(t, c.base)
	ctx, cancel := context.WithCancel(context.Background())
	ls := fw.listen(ctx)
	defer stopListeners(cancel, ls)
	t.Logf("streams open per node: %d, %d", c.streamsOpen(0), c.streamsOpen(1))

	fw.startSenders(20 * time.Millisecond)
	fw.waitAcked(100)
	stopped := time.Now()
	nats.Stop()
	before := fw.sendsAcked()
	// Messages sent through both nodes while NATS is down reach every
	// stream, from the database.
	fw.waitAcked(before + 60)
	fw.stopSenders()
	if t.Failed() {
		t.FailNow()
	}
	fw.checkListeners(ls)
	t.Logf("NATS down: %d messages acknowledged meanwhile, every one on every stream %v after NATS stopped, from the database",
		fw.sendsAcked()-before, time.Since(stopped).Round(time.Millisecond))

	nats.Restart()
	for end := time.Now().Add(streamDeadline); nats.Clients() < len(c.nodes); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d of %d nodes reconnected to NATS", nats.Clients(), len(c.nodes))
		}
	}
	t.Logf("NATS back: the nodes reconnected %v after it stopped", time.Since(stopped).Round(time.Millisecond))
	fw.startSenders(20 * time.Millisecond)
	fw.waitAcked(fw.sendsAcked() + 100)
	fw.stopSenders()
	if t.Failed() {
		t.FailNow()
	}
	fw.checkListeners(ls)
	fw.checkHistory()
	for _, l := range ls {
		l.mu.Lock()
		for _, conn := range l.conns {
			if !conn.ended.IsZero() && conn.why != "fell behind" {
				t.Errorf("%s ended (%s) while NATS was away: docs/operations.md says no stream has to reconnect", l.name, conn.why)
			}
		}
		l.mu.Unlock()
	}
	reconnectReport(t, "NATS restart", stopped, ls)
	t.Logf("NATS restart: sends: %s", fw.sendReport())
}

// ownPostgres is a PostgreSQL server of the test's own, which it may stop:
// the one GLASSHOUSE_TEST_POSTGRES names is shared and must not be.
type ownPostgres struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	as   []string // runuser -u postgres -- when root
}

// startOwnPostgres initializes and starts a throwaway PostgreSQL cluster
// from Debian's binaries (/usr/lib/postgresql/*/bin), as .ci/run does;
// it is skipped when they are missing, except under CI.
func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no PostgreSQL server binaries under /usr/lib/postgresql (.ci/run installs them)")
		}
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	slices.Sort(bins)
	p := &ownPostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: testbin.FreePort(t)}
	dir, err := os.MkdirTemp("", "glasshouse-faultpg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() {
		p.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // initdb refuses root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := p.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-N"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start()
	return p
}

func (p *ownPostgres) run(name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(p.as), append([]string{filepath.Join(p.bin, name)}, args...)...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

func (p *ownPostgres) start() {
	p.t.Helper()
	out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off", p.port, p.dir), "start")
	if err != nil {
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, tail(filepath.Join(p.dir, "log"), 20))
	}
}

// stop stops the server as an operator's restart does: fast mode, which
// ends the sessions' transactions.
func (p *ownPostgres) stop() {
	p.t.Helper()
	if out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *ownPostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// probe is one answer of a node while the database is away.
type probe struct {
	status  int
	body    string
	took    time.Duration
	err     error
	apiForm apiError
}

func getProbe(client *http.Client, method, url, tok string, body []byte) probe {
	start := time.Now()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	p := probe{err: err}
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		p.status, p.body = resp.StatusCode, strings.TrimSpace(string(b))
		json.Unmarshal(b, &p.apiForm)
	}
	p.took = time.Since(start)
	return p
}

func (p probe) String() string {
	if p.err != nil {
		return fmt.Sprintf("error %v after %v", p.err, p.took.Round(time.Millisecond))
	}
	return fmt.Sprintf("%d %.120s after %v", p.status, p.body, p.took.Round(time.Millisecond))
}

// TestFaultPostgresStopped: two nodes behind nginx under load (sends,
// streams, Graph API calls), and PostgreSQL stops for three seconds.
// Meanwhile each node's /healthz answers 503, a send is refused at once
// with a 5xx in the API's error form (it neither hangs nor is
// acknowledged), and streams stay open; once PostgreSQL is back the nodes
// recover by themselves, the retried sends are acknowledged, and nothing
// acknowledged is lost or doubled: on the streams, in the history, in the
// log, which one feeder still writes and which verifies.
//
// What the docs promise beyond that is checked too: docs/api.md says a
// request the database does not answer gets 503 unavailable, in the API's
// error form, also through the nginx front; and docs/operations.md says
// exactly one process appends to the log: the restart frees the feeder
// lock, and the feeder that held it must stop before another node takes
// it (two feeders could make the log hold an entry twice and stop for
// good).
func TestFaultPostgresStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL server and a cluster of processes")
	}
	pg := startOwnPostgres(t)
	nats := natstest.Start(t)
	c := startFaultCluster(t, pg.url(), nats.URL(), 2)
	fw := newFaultWorld(t, c.base)
	partner := newFaultPartner(t, c, fw)
	ctx, cancel := context.WithCancel(context.Background())
	ls := fw.listen(ctx)
	defer stopListeners(cancel, ls)

	fw.startSenders(20 * time.Millisecond)
	partner.start(200 * time.Millisecond)
	fw.waitAcked(100)

	stopped := time.Now()
	pg.stop()
	t.Logf("PostgreSQL stopped after %d acknowledged sends (pg_ctl stop took %v)", fw.sendsAcked(), time.Since(stopped).Round(time.Millisecond))
	ackedDown := fw.sendsAcked()
	fw.mu.Lock()
	clear(fw.failures) // from here on: what clients see of the outage
	fw.mu.Unlock()

	// What the nodes answer, directly, while the database is away.
	client := &http.Client{Timeout: 20 * time.Second}
	probeBody, _ := json.Marshal(map[string]string{"text": "probe-pg-down", "client_txn_id": "probe-pg-down"})
	for i, node := range c.nodes {
		h := getProbe(client, "GET", "http://"+node.addr+"/healthz", "", nil)
		t.Logf("PostgreSQL down: node %d GET /healthz: %v", i, h)
		if h.status != http.StatusServiceUnavailable || h.apiForm.Error != glasshouse.EUNAVAILABLE {
			t.Errorf("node %d /healthz with PostgreSQL down: %v; want 503 unavailable", i, h)
		}
		s := getProbe(client, "POST", fmt.Sprintf("http://%s/api/v1/conversations/%d/messages", node.addr, fw.convs[0].id), fw.toks[0], probeBody)
		t.Logf("PostgreSQL down: node %d send: %v", i, s)
		switch {
		case s.err != nil:
			t.Errorf("node %d: a send with PostgreSQL down got no answer: %v", i, s)
		case s.status < 500 || s.apiForm.Error == "" || s.apiForm.Message == "":
			t.Errorf("node %d: a send with PostgreSQL down: %v; want a 5xx in the API's error form", i, s)
		case s.status != http.StatusServiceUnavailable || s.apiForm.Error != glasshouse.EUNAVAILABLE:
			t.Errorf("node %d answered a send with PostgreSQL down %d %q, not 503 unavailable as docs/api.md says", i, s.status, s.apiForm.Error)
		}
		if s.took > 15*time.Second {
			t.Errorf("node %d: the send took %v to be refused", i, s.took)
		}
	}
	h := getProbe(client, "GET", c.base+"/healthz", "", nil)
	t.Logf("PostgreSQL down: GET /healthz through nginx: %v", h)
	if h.status/100 != 5 {
		t.Errorf("/healthz through nginx with PostgreSQL down: %v; want 503", h)
	} else if h.status != http.StatusServiceUnavailable || h.apiForm.Error != glasshouse.EUNAVAILABLE {
		t.Errorf("/healthz through nginx with PostgreSQL down answered %d %.40q, not 503 unavailable", h.status, h.body)
	}
	time.Sleep(time.Until(stopped.Add(3 * time.Second)))
	if acked := fw.sendsAcked(); acked != ackedDown {
		t.Errorf("%d sends acknowledged while PostgreSQL was down", acked-ackedDown)
	}

	restarted := time.Now()
	pg.start()
	t.Logf("PostgreSQL back after %v down", restarted.Sub(stopped).Round(time.Millisecond))
	for i, node := range c.nodes {
		for end := time.Now().Add(streamDeadline); ; time.Sleep(50 * time.Millisecond) {
			if h := getProbe(client, "GET", "http://"+node.addr+"/healthz", "", nil); h.status == http.StatusOK {
				t.Logf("PostgreSQL back: node %d healthy %v after the restart", i, time.Since(restarted).Round(time.Millisecond))
				break
			} else if time.Now().After(end) {
				t.Fatalf("node %d not healthy %v after PostgreSQL came back: %v", i, streamDeadline, h)
			}
		}
	}
	// The refused probe, retried with its client_txn_id, is stored once.
	if !fw.send(0, fw.convs[0].id, "probe-pg-down") {
		t.FailNow()
	}
	fw.mu.Lock()
	failures := maps.Clone(fw.failures)
	fw.mu.Unlock()
	for kind, n := range failures {
		if kind != "503 unavailable" {
			t.Errorf("through nginx, %d send attempts during the outage were answered %s, not 503 unavailable", n, kind)
		}
	}
	// Sends and Graph API calls go on long enough for a standby node to
	// try the feeder lock, which the restart freed, twice (feederStandby).
	partner.markNow()
	fw.waitAcked(fw.sendsAcked() + 100)
	fw.stopSenders()
	for end := time.Now().Add(streamDeadline); partner.receiptsAfterMark() < 5 || time.Since(restarted) < 3*feederStandby; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the Graph API gave %d receipts after PostgreSQL came back", partner.receiptsAfterMark())
		}
	}
	partner.stopCalls()
	if t.Failed() {
		t.FailNow()
	}
	fw.checkListeners(ls)
	fw.checkHistory()
	reconnectReport(t, "PostgreSQL stop", stopped, ls)
	t.Logf("PostgreSQL stop: sends: %s", fw.sendReport())

	// One feeder: node 0 ran it from the start; node 1 must not have
	// taken it over while node 0 still runs. If it did, two feeders append
	// to one log, which can then hold an entry twice and stop for good
	// (each feeder refusing to record the other's index): the log is not
	// checked then, for it would only time out.
	took, _ := os.ReadFile(c.nodes[1].logPath)
	stoppedOwn, _ := os.ReadFile(c.nodes[0].logPath)
	if bytes.Contains(took, []byte(feederTookOver)) && !bytes.Contains(stoppedOwn, []byte(feederStopped)) {
		for i, node := range c.nodes {
			if lines := grepLines(node.logPath, "the log would hold it twice", 1); lines != "" {
				t.Errorf("node %d's feeder is stuck: %s", i, lines)
			}
		}
		t.Fatal("node 1 took over the transparency log feeder after the PostgreSQL restart while node 0 still ran its own: two feeders append to one log")
	}
	size := partner.checkLog()
	t.Logf("PostgreSQL stop: the log holds %d entries, %d receipts of them given after the restart, and verifies", size, partner.receiptsAfterMark())
}

// TestClusterDeliveryBehindNginx: three nodes behind deploy's nginx; six
// members with a WebSocket and an event stream each, which nginx spreads
// over the nodes, in two direct conversations and two groups; senders
// through nginx, whose requests reach every node. Every stream gets every
// acknowledged message of its conversations exactly once, in order,
// whichever node it was sent through. Then the node holding the most
// streams stops (SIGTERM): its streams are told so, reopen through nginx
// on the other nodes with their cursor, and again miss nothing and get
// nothing twice.
func TestClusterDeliveryBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of processes")
	}
	db := clusterPostgres(t)
	nats := natstest.Start(t)
	c := startFaultCluster(t, db, nats.URL(), 3)
	fw := newFaultWorld(t, c.base)
	ctx, cancel := context.WithCancel(context.Background())
	ls := fw.listen(ctx)
	defer stopListeners(cancel, ls)

	var open []int
	busiest, withStreams := 0, 0
	for i := range c.nodes {
		open = append(open, c.streamsOpen(i))
		if open[i] > 0 {
			withStreams++
		}
		if open[i] > open[busiest] {
			busiest = i
		}
	}
	t.Logf("streams open per node: %v", open)
	if withStreams < 2 {
		t.Fatalf("nginx put the %d streams on %d node(s) (%v): no delivery would cross nodes", len(ls), withStreams, open)
	}

	fw.startSenders(20 * time.Millisecond)
	fw.waitAcked(120)
	fw.stopSenders()
	if t.Failed() {
		t.FailNow()
	}
	var sent []int
	for i := range c.nodes {
		sent = append(sent, c.metric(i, "glasshouse_messages_sent_total"))
	}
	t.Logf("messages sent per node: %v", sent)
	if slices.Contains(sent, 0) {
		t.Errorf("nginx sent no message through some node (%v)", sent)
	}
	fw.checkListeners(ls)

	// The busiest node stops; its streams move to the others.
	stopped := time.Now()
	fw.startSenders(20 * time.Millisecond)
	c.term(busiest)
	fw.waitAcked(fw.sendsAcked() + 80)
	fw.stopSenders()
	if t.Failed() {
		t.FailNow()
	}
	fw.checkListeners(ls)
	fw.checkHistory()
	if n := reconnectReport(t, "node stop (SIGTERM)", stopped, ls); n < open[busiest] {
		t.Errorf("%d streams ended when node %d stopped; it held %d", n, busiest, open[busiest])
	}
	moved := 0
	for i := range c.nodes {
		if i != busiest {
			moved += c.streamsOpen(i)
		}
	}
	if moved != len(ls) {
		t.Errorf("%d of %d streams open on the remaining nodes", moved, len(ls))
	}
}
