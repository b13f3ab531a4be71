package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/natstest"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
)

// clusterPostgres returns a new PostgreSQL database for a cluster test:
// skipped without GLASSHOUSE_TEST_POSTGRES (a cluster on SQLite is no
// cluster), except under CI, where that fails.
func clusterPostgres(t *testing.T) string {
	if os.Getenv(pgtest.EnvVar) == "" && os.Getenv("CI") == "true" && !testing.Short() {
		t.Fatalf("CI=true but %s is not set: the cluster tests need PostgreSQL", pgtest.EnvVar)
	}
	return pgtest.URL(t)
}

// startNode runs one node of a deployment: data folder, database and NATS
// as given ("" for none), the rest as adjust sets it. It returns Run's
// error after closing what Run opened, or the running node, which the
// caller closes.
func startNode(data, db, natsURL string, adjust ...func(*Config)) (*Main, error) {
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.Data, m.Config.DB, m.Config.NATS = data, db, natsURL
	m.Config.LogLevel = "error"
	m.Stdout = io.Discard
	for _, f := range adjust {
		f(&m.Config)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// mustStartNode starts a node that is closed when tb ends.
func mustStartNode(tb testing.TB, data, db, natsURL string, adjust ...func(*Config)) *Main {
	tb.Helper()
	m, err := startNode(data, db, natsURL, adjust...)
	if err != nil {
		tb.Fatalf("start node: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close node: %v", err)
		}
	})
	return m
}

// eventStream reads a server-sent events stream in the background.
type eventStream struct {
	mu   sync.Mutex
	msgs []*glasshouse.Message
	err  error
}

// openSSE opens tok's stream as server-sent events after the message id
// after.
func openEventStream(tb testing.TB, base, tok string, after int64) *eventStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/stream?after=%d", base, after), nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		tb.Fatalf("SSE stream: %s", resp.Status)
	}
	s := &eventStream{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: ")
			if !ok {
				continue
			}
			var f struct {
				Type    string
				Reason  string
				Message *glasshouse.Message
			}
			if err := json.Unmarshal([]byte(data), &f); err != nil || f.Type != "message" {
				s.mu.Lock()
				s.err = fmt.Errorf("frame %s (%v)", data, err)
				s.mu.Unlock()
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, f.Message)
			s.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

// waitFor waits until the stream holds exactly the messages want, in order.
func (s *eventStream) waitFor(tb testing.TB, name string, want []int64) {
	tb.Helper()
	end := time.Now().Add(streamDeadline)
	for {
		s.mu.Lock()
		var got []int64
		for _, m := range s.msgs {
			got = append(got, m.ID)
		}
		err := s.err
		s.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if len(got) > len(want) || err != nil || time.Now().After(end) {
			tb.Fatalf("%s: got %v (err %v); want %v", name, got, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func messageIDs(ms []*glasshouse.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestClusterCrossNodeDelivery runs two nodes on one PostgreSQL database
// and one NATS server, as a cluster does: members whose streams (WebSocket
// and SSE) are open on one node get what is sent through the other,
// direct and group messages, exactly once and in order; a stream that
// reconnects to the other node resumes from its cursor.
func TestClusterCrossNodeDelivery(t *testing.T) {
	db := clusterPostgres(t)
	nats := natstest.Start(t)
	data := t.TempDir() // shared, as the log and storage key must be
	a := mustStartNode(t, data, db, nats.URL())
	b := mustStartNode(t, data, db, nats.URL())
	wa, wb := newTestWorld(t, a.URL()), newTestWorld(t, b.URL())

	alice, carol := wa.member("alice"), wa.member("carol")
	bob := wb.member("bob")
	wa.befriend(alice, bob, "bob")
	wa.befriend(alice, carol, "carol")
	var direct, group glasshouse.Conversation
	wa.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "with": "bob"}, &direct)
	wa.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "Both nodes", "members": []string{"bob", "carol"}}, &group)

	// Streams on the node the sender is not on, and on the same.
	bobWS, carolWS := wb.stream(bob, 0), wb.stream(carol, 0)
	bobSSE := openEventStream(t, b.URL(), bob, 0)
	aliceWS := wa.stream(alice, 0)

	// alice and carol send through node A, bob through node B, at once.
	const each = 15
	var mu sync.Mutex
	var sentDirect, sentGroup []*glasshouse.Message
	var wg sync.WaitGroup
	for _, s := range []struct {
		w    *testWorld
		tok  string
		conv int64
		name string
	}{{wa, alice, direct.ID, "alice-d"}, {wa, alice, group.ID, "alice-g"}, {wa, carol, group.ID, "carol-g"}, {wb, bob, direct.ID, "bob-d"}, {wb, bob, group.ID, "bob-g"}} {
		wg.Go(func() {
			for k := range each {
				text := fmt.Sprintf("%s-%d", s.name, k)
				var msg glasshouse.Message
				if err := s.w.c.call(context.Background(), s.tok, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", s.conv), map[string]string{"text": text, "client_txn_id": text}, &msg); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if s.conv == direct.ID {
					sentDirect = append(sentDirect, &msg)
				} else {
					sentGroup = append(sentGroup, &msg)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	sorted := func(lists ...[]*glasshouse.Message) []int64 {
		var out []int64
		for _, l := range lists {
			out = append(out, messageIDs(l)...)
		}
		slices.Sort(out)
		return out
	}
	both, groupOnly := sorted(sentDirect, sentGroup), sorted(sentGroup)

	check := func(name string, s *testStream, want []int64) {
		t.Helper()
		got := readMessages(t, s, len(want))
		if !slices.Equal(messageIDs(got), want) {
			t.Fatalf("%s got %v; want %v", name, messageIDs(got), want)
		}
		expectQuiet(t, s)
	}
	check("bob's WebSocket on node B", bobWS, both)
	check("carol's WebSocket on node B", carolWS, groupOnly)
	check("alice's WebSocket on node A", aliceWS, both)
	bobSSE.waitFor(t, "bob's SSE stream on node B", both)

	// alice leaves node A and resumes on node B from her cursor, while
	// bob sends through node A now.
	last := aliceWS.last
	aliceWS.Close()
	var more []*glasshouse.Message
	for k := range 5 {
		more = append(more, wa.send(bob, group.ID, fmt.Sprint("after the move ", k), fmt.Sprint("move-", k)))
	}
	aliceOnB := wb.stream(alice, last)
	check("alice's stream resumed on node B", aliceOnB, messageIDs(more))
	bobSSE.waitFor(t, "bob's SSE stream on node B", append(both, messageIDs(more)...))

	// NATS stops while alice sends through node A: bob's streams on node
	// B get her messages from the database, then through NATS again once
	// it is back, each once.
	connected := func(n *Main) bool { return n.Hub.(interface{ Connected() bool }).Connected() }
	health := func(n *Main) string {
		var h struct{ Status string }
		if err := newTestWorld(t, n.URL()).c.call(context.Background(), "", "GET", "/healthz", nil, &h); err != nil {
			t.Fatalf("/healthz: %v", err)
		}
		return h.Status
	}
	nats.Stop()
	for end := time.Now().Add(streamDeadline); health(b) != "degraded"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("node B's /healthz does not say it runs without NATS")
		}
	}
	var down []*glasshouse.Message
	for k := range 5 {
		down = append(down, wa.send(alice, direct.ID, fmt.Sprint("NATS down ", k), fmt.Sprint("down-", k)))
	}
	check("bob's WebSocket on node B while NATS is down", bobWS, messageIDs(append(more, down...)))
	nats.Restart()
	for end := time.Now().Add(streamDeadline); !connected(a) || !connected(b); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the nodes did not reconnect to NATS")
		}
	}
	if h := health(b); h != "ok" {
		t.Errorf("node B's /healthz says %q with NATS back; want ok", h)
	}
	var up []*glasshouse.Message
	for k := range 5 {
		up = append(up, wa.send(alice, group.ID, fmt.Sprint("NATS back ", k), fmt.Sprint("up-", k)))
	}
	check("bob's WebSocket on node B once NATS is back", bobWS, messageIDs(up))
	check("alice's stream on node B", aliceOnB, messageIDs(append(down, up...)))
	bobSSE.waitFor(t, "bob's SSE stream on node B", slices.Concat(both, messageIDs(more), messageIDs(down), messageIDs(up)))
}

// TestClusterRefusesNodesWithoutNATS: several nodes on one PostgreSQL
// database must all use NATS; a node that would break that stops at start
// and says why.
func TestClusterRefusesNodesWithoutNATS(t *testing.T) {
	db := clusterPostgres(t)
	natsURL := natstest.Start(t).URL()
	data := t.TempDir()

	// refused starts a node that must be refused with want.
	refused := func(name, natsURL string, want error) {
		t.Helper()
		m, err := startNode(data, db, natsURL)
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", name, err, want)
		}
	}

	withNATS, err := startNode(data, db, natsURL)
	if err != nil {
		t.Fatal(err)
	}
	refused("a node without NATS beside one with", "", errNodeAlone)
	if err := withNATS.Close(); err != nil {
		t.Fatal(err)
	}

	mustStartNode(t, data, db, "") // alone: as today
	refused("a node with NATS beside one without", natsURL, errNodeWithoutNATS)
	refused("a second node without NATS", "", errNodeAlone)
}
