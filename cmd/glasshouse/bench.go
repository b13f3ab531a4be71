package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// runBench measures messaging over the public HTTP API against a server it
// starts as a child process (so that its resident memory can be read), or
// against --url.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("glasshouse bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "server to measure (default: start glasshouse serve on a fresh data folder)")
	db := fs.String("db", "", "with no --url: the --db for the started server (default SQLite)")
	senders := fs.String("senders", "1,8,32", "comma-separated counts of concurrent senders, one closed-loop run each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	rate := fs.Int("rate", 1000, "messages/s of the paced run that measures delivery latency (0 skips it)")
	streams := fs.Int("streams", 0, "instead of messaging: open this many idle streams and report the server's resident memory")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: glasshouse bench [flags]\n\nSends messages into one group over HTTP and reports messages/s, send latency and\nsend-to-delivery latency on a WebSocket stream; or, with --streams, the server's\nresident memory with that many idle streams open.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(*senders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("--senders must be numbers from 1 to 256, not %q", s)
		}
		counts = append(counts, n)
	}
	var server *benchServer
	if *url == "" {
		var extra []string
		if *streams > 0 {
			// One member holds every idle stream: lift the per-member limit.
			extra = []string{"--max-streams-per-member", "-1"}
		}
		var err error
		if server, err = startBenchServer(ctx, *db, extra...); err != nil {
			return err
		}
		defer server.stop()
		*url = server.url
	}
	c := &benchClient{base: strings.TrimRight(*url, "/"), http: newHTTPClient()}
	if *streams > 0 {
		if server == nil {
			return errors.New("--streams needs the server started by bench (no --url), to read its memory")
		}
		return benchStreams(ctx, c, server, *streams, stdout)
	}
	w, err := c.setupWorld(ctx, slices.Max(counts))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-22s %10s %10s %10s %12s %12s %8s\n", "run", "msgs/s", "send p50", "send p99", "deliver p50", "deliver p99", "sent")
	for _, n := range counts {
		r, err := w.run(ctx, n, *duration, 0)
		if err != nil {
			return err
		}
		r.print(stdout, fmt.Sprintf("%d senders", n))
	}
	if *rate > 0 {
		r, err := w.run(ctx, min(8, slices.Max(counts)), *duration, *rate)
		if err != nil {
			return err
		}
		r.print(stdout, fmt.Sprintf("paced %d/s", *rate))
	}
	return nil
}

type benchServer struct {
	cmd  *exec.Cmd
	url  string
	data string
}

func startBenchServer(ctx context.Context, db string, extra ...string) (*benchServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp("", "glasshouse-bench-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"}
	if db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.CommandContext(ctx, self, append(args, extra...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &benchServer{cmd: cmd, data: data}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "glasshouse is running at "); ok {
			s.url = u
			go io.Copy(io.Discard, out)
			return s, nil
		}
	}
	s.stop()
	return nil, errors.New("bench: the server did not start")
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
	os.RemoveAll(s.data)
}

// rssMiB reads the server's resident set size from /proc.
func (s *benchServer) rssMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
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

type benchWorld struct {
	c        *benchClient
	tokens   []string // senders
	observer string   // a group member who only listens
	conv     int64
}

// setupWorld creates n senders and an observer, all friends of the first
// sender, in one group.
func (c *benchClient) setupWorld(ctx context.Context, n int) (*benchWorld, error) {
	w := &benchWorld{c: c}
	prefix := fmt.Sprintf("b%d_", time.Now().UnixNano()%1e6)
	var handles []string
	for i := 0; i <= n; i++ {
		h := fmt.Sprintf("%s%d", prefix, i)
		tok, err := c.member(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		if i == n {
			w.observer = tok
		} else {
			w.tokens = append(w.tokens, tok)
		}
		handles = append(handles, h)
	}
	var reqs struct {
		Outgoing []struct{ ID int64 }
	}
	for _, h := range handles[1:] {
		if err := c.call(ctx, w.tokens[0], "POST", "/api/v1/friend-requests", map[string]string{"handle": h}, nil); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if err := c.call(ctx, w.tokens[0], "GET", "/api/v1/friend-requests", nil, &reqs); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	for i, r := range reqs.Outgoing {
		tok := w.observer
		if i+1 < n {
			tok = w.tokens[i+1]
		}
		if err := c.call(ctx, tok, "POST", fmt.Sprintf("/api/v1/friend-requests/%d/accept", r.ID), nil, nil); err != nil {
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

type benchResult struct {
	sent            int
	elapsed         time.Duration
	send, delivered []time.Duration
}

func (r benchResult) print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-22s %10.0f %10s %10s %12s %12s %8d\n", name, float64(r.sent)/r.elapsed.Seconds(),
		pct(r.send, 50), pct(r.send, 99), pct(r.delivered, 50), pct(r.delivered, 99), r.sent)
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	slices.Sort(d)
	return d[(len(d)-1)*p/100].Round(10 * time.Microsecond).String()
}

// run sends for d with n senders, closed-loop, or paced to rate messages/s
// when rate > 0, while the observer's stream times each delivery.
func (w *benchWorld) run(ctx context.Context, n int, d time.Duration, rate int) (benchResult, error) {
	var (
		mu       sync.Mutex
		sentAt   = map[string]time.Time{}
		res      benchResult
		failures atomic.Int64
	)
	stream, err := w.openStream(ctx, w.observer, -1)
	if err != nil {
		return res, err
	}
	defer stream.CloseNow()
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for {
			var f struct {
				Message struct {
					ClientTxnID string `json:"client_txn_id"`
				}
			}
			_, b, err := stream.Read(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			mu.Lock()
			if t, ok := sentAt[f.Message.ClientTxnID]; ok {
				res.delivered = append(res.delivered, now.Sub(t))
				delete(sentAt, f.Message.ClientTxnID)
			}
			mu.Unlock()
		}
	}()
	runID := time.Now().UnixNano()
	stop := time.Now().Add(d)
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; time.Now().Before(stop); k++ {
				if tick != nil {
					<-tick
				}
				txn := fmt.Sprintf("%d-%d-%d", runID, i, k)
				t0 := time.Now()
				mu.Lock()
				sentAt[txn] = t0
				mu.Unlock()
				err := w.c.call(ctx, w.tokens[i], "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", w.conv), map[string]string{"text": "bench message " + txn, "client_txn_id": txn}, nil)
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					delete(sentAt, txn)
					failures.Add(1)
				} else {
					res.sent++
					res.send = append(res.send, lat)
				}
				mu.Unlock()
				if err != nil && failures.Load() > 10 {
					return
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	// Let the stream catch up before reading the figures.
	for range 200 {
		mu.Lock()
		left := len(sentAt)
		mu.Unlock()
		if left == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stream.Close(websocket.StatusNormalClosure, "")
	<-streamDone
	mu.Lock()
	defer mu.Unlock()
	if f := failures.Load(); f > 0 {
		return res, fmt.Errorf("bench: %d sends failed", f)
	}
	if len(sentAt) > 0 {
		return res, fmt.Errorf("bench: %d acknowledged messages never reached the stream", len(sentAt))
	}
	return res, nil
}

// openStream opens a WebSocket stream; after < 0 starts from now.
func (w *benchWorld) openStream(ctx context.Context, token string, after int64) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(w.c.base, "http") + "/api/v1/stream"
	if after >= 0 {
		u += fmt.Sprintf("?after=%d", after)
	} else {
		var page struct{ Messages []struct{ ID int64 } }
		if err := w.c.call(ctx, token, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", w.conv), nil, &page); err != nil {
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
