package natshub_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/natstest"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/realtime/natshub"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
	"github.com/nats-io/nats.go"
)

// deadline bounds every wait: generous, for a loaded machine.
const deadline = 2 * time.Minute

// publisherFunc makes a function a glasshouse.Publisher.
type publisherFunc func(glasshouse.Event)

func (f publisherFunc) Publish(ev glasshouse.Event) { f(ev) }

// testConfig is a hub's configuration in these tests: a buffer no test
// fills, and a quick poll so that the database path is exercised fast.
func testConfig(url string) natshub.Config {
	return natshub.Config{URL: url, Buffer: 1 << 16, Poll: 200 * time.Millisecond, ReconnectWait: 100 * time.Millisecond}
}

func mustStart(tb testing.TB, h *natshub.Hub, src natshub.Source) {
	tb.Helper()
	if err := h.Start(tb.Context(), src); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
}

// collector gathers the message ids one subscription delivers.
type collector struct {
	name string
	mu   sync.Mutex
	ids  []int64
	err  error // the subscription ended early
}

func collect(tb testing.TB, name string, h glasshouse.Hub, memberID int64) *collector {
	tb.Helper()
	sub, err := h.Subscribe(context.Background(), memberID)
	if err != nil {
		tb.Fatal(err)
	}
	c := &collector{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.C() {
			c.mu.Lock()
			c.ids = append(c.ids, ev.Message.ID)
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.err = fmt.Errorf("subscription ended")
		c.mu.Unlock()
	}()
	tb.Cleanup(func() {
		sub.Close()
		<-done
	})
	return c
}

func (c *collector) snapshot() ([]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids), c.err
}

// waitFor waits until c holds want exactly, in order, and fails on a
// duplicate, a wrong order, or an early end.
func (c *collector) waitFor(tb testing.TB, want []int64) {
	tb.Helper()
	end := time.Now().Add(deadline)
	for {
		got, err := c.snapshot()
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			tb.Fatalf("%s: ids not strictly increasing (a duplicate or out of order): %v", c.name, got)
		}
		if slices.Equal(got, want) {
			return
		}
		if len(got) > len(want) || err != nil || time.Now().After(end) {
			tb.Fatalf("%s: got %d events %v (err %v); want %d %v", c.name, len(got), got, err, len(want), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// world is members and conversations to send in: everyone in one group,
// and a direct conversation between the first two.
type world struct {
	members []*glasshouse.Member
	group   *glasshouse.Conversation
	direct  *glasshouse.Conversation
}

func newWorld(tb testing.TB, s glasshouse.Store) *world {
	ms := storetest.MustMembers(tb, s, "alice", "bob", "carol", "dave")
	return &world{members: ms, group: storetest.MustGroup(tb, s, ms[0], ms[1:]...), direct: storetest.MustDirect(tb, s, ms[0], ms[1])}
}

// sendRound has every member send n messages to the group at once, and
// the first two n each in their direct conversation, through the stores
// given (member i sends through stores[i%len(stores)]). It returns the
// messages sent, by conversation.
func (w *world) sendRound(tb testing.TB, stores []glasshouse.Store, n int, pause time.Duration) map[int64][]*glasshouse.Message {
	tb.Helper()
	var mu sync.Mutex
	sent := map[int64][]*glasshouse.Message{}
	var wg sync.WaitGroup
	for i, m := range w.members {
		s := stores[i%len(stores)]
		convs := []*glasshouse.Conversation{w.group}
		if i < 2 {
			convs = append(convs, w.direct)
		}
		for _, c := range convs {
			wg.Go(func() {
				for k := range n {
					msg, _, err := s.SendMessage(context.Background(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: m.ID, Text: fmt.Sprintf("%s %d", m.Handle, k)})
					if err != nil {
						tb.Errorf("send: %v", err)
						return
					}
					mu.Lock()
					sent[c.ID] = append(sent[c.ID], msg)
					mu.Unlock()
					time.Sleep(pause)
				}
			})
		}
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return sent
}

// expected returns, per member, the ids of every message of their
// conversations in sent, in id order.
func (w *world) expected(sent map[int64][]*glasshouse.Message) map[int64][]int64 {
	want := map[int64][]int64{}
	for _, m := range w.members {
		var ids []int64
		for _, msg := range sent[w.group.ID] {
			ids = append(ids, msg.ID)
		}
		if m.ID == w.members[0].ID || m.ID == w.members[1].ID {
			for _, msg := range sent[w.direct.ID] {
				ids = append(ids, msg.ID)
			}
		}
		slices.Sort(ids)
		want[m.ID] = ids
	}
	return want
}

func merge(a, b map[int64][]*glasshouse.Message) map[int64][]*glasshouse.Message {
	out := map[int64][]*glasshouse.Message{}
	for _, m := range []map[int64][]*glasshouse.Message{a, b} {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// sharedStore is two nodes on one SQLite store in one process: the store
// hands each committed event to the hub of the node it was "sent through"
// (route), which is how the other hub can only learn of it through NATS or
// the database. route returns -1 for an event no node publishes (a node
// that died between commit and publish).
type sharedStore struct {
	store *sqlstore.Store
	hubs  []*natshub.Hub
	route atomic.Pointer[func(ev glasshouse.Event) int]
}

func newSharedStore(tb testing.TB, url string, nodes int) *sharedStore {
	tb.Helper()
	ss := &sharedStore{}
	for range nodes {
		ss.hubs = append(ss.hubs, natshub.New(testConfig(url)))
	}
	bySender := func(ev glasshouse.Event) int { return int(ev.Message.SenderID) % nodes }
	ss.route.Store(&bySender)
	pub := publisherFunc(func(ev glasshouse.Event) {
		if i := (*ss.route.Load())(ev); i >= 0 {
			ss.hubs[i].Publish(ev)
		}
	})
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: pub})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	ss.store = s
	for _, h := range ss.hubs {
		mustStart(tb, h, s)
	}
	return ss
}

// collectAll subscribes every member on every hub.
func collectAll(tb testing.TB, w *world, hubs []*natshub.Hub) map[int64][]*collector {
	out := map[int64][]*collector{}
	for i, h := range hubs {
		for _, m := range w.members {
			out[m.ID] = append(out[m.ID], collect(tb, fmt.Sprintf("%s on node %d", m.Handle, i), h, m.ID))
		}
	}
	return out
}

func waitAll(tb testing.TB, cs map[int64][]*collector, want map[int64][]int64) {
	tb.Helper()
	for id, list := range cs {
		for _, c := range list {
			c.waitFor(tb, want[id])
		}
	}
}

func totals(hubs []*natshub.Hub) (s natshub.Stats) {
	for _, h := range hubs {
		st := h.Stats()
		s.Published += st.Published
		s.Received += st.Received
		s.CatchUps += st.CatchUps
		s.FromDB += st.FromDB
		s.Duplicates += st.Duplicates
		s.Dropped += st.Dropped
		s.Failed += st.Failed
	}
	return s
}

// TestEveryNodeDeliversEverything sends from members on two nodes at once:
// every stream on both nodes gets every message of its conversations once,
// in id (commit) order.
func TestEveryNodeDeliversEverything(t *testing.T) {
	n := natstest.Start(t)
	ss := newSharedStore(t, n.URL(), 2)
	w := newWorld(t, ss.store)
	cs := collectAll(t, w, ss.hubs)
	sent := w.sendRound(t, []glasshouse.Store{ss.store}, 25, 0)
	waitAll(t, cs, w.expected(sent))
	st := totals(ss.hubs)
	t.Logf("stats: %+v", st)
	if st.Received == 0 {
		t.Error("no event travelled through NATS")
	}
}

// TestNATSRestart stops the NATS server while messages are sent and starts
// it again: the streams keep getting every message (from the database
// while NATS is down), exactly once, in order, and NATS carries them again
// once back.
func TestNATSRestart(t *testing.T) {
	n := natstest.Start(t)
	ss := newSharedStore(t, n.URL(), 2)
	w := newWorld(t, ss.store)
	cs := collectAll(t, w, ss.hubs)
	stores := []glasshouse.Store{ss.store}

	before := w.sendRound(t, stores, 10, 0)
	waitAll(t, cs, w.expected(before))

	// Down mid-stream: sends go on, spread over time.
	var during map[int64][]*glasshouse.Message
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		during = w.sendRound(t, stores, 10, 20*time.Millisecond)
	}()
	time.Sleep(50 * time.Millisecond)
	n.Stop()
	<-sending
	sent := merge(before, during)
	waitAll(t, cs, w.expected(sent)) // NATS is down: only the database can have brought them
	if st := totals(ss.hubs); st.FromDB == 0 {
		t.Fatalf("stats %+v: no event came from the database while NATS was down", st)
	}

	n.Restart()
	end := time.Now().Add(deadline)
	for !ss.hubs[0].Connected() || !ss.hubs[1].Connected() {
		if time.Now().After(end) {
			t.Fatal("hubs did not reconnect to NATS")
		}
		time.Sleep(10 * time.Millisecond)
	}
	received := totals(ss.hubs).Received
	after := w.sendRound(t, stores, 10, 0)
	sent = merge(sent, after)
	waitAll(t, cs, w.expected(sent))
	st := totals(ss.hubs)
	t.Logf("stats: %+v", st)
	if st.Received == received {
		t.Error("no event travelled through NATS after it came back")
	}
}

// TestUnpublishedEventsCaughtUp drops some committed events before they
// reach NATS, the last one included (as when a node dies between commit
// and publish): the hubs notice the gaps by id, or by polling the newest
// id, and read them from the database. A stray message on the subject is
// ignored.
func TestUnpublishedEventsCaughtUp(t *testing.T) {
	n := natstest.Start(t)
	ss := newSharedStore(t, n.URL(), 2)
	w := newWorld(t, ss.store)
	cs := collectAll(t, w, ss.hubs)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish(natshub.DefaultSubject, []byte(`{"v":99}`)); err != nil {
		t.Fatal(err)
	}
	nc.Publish(natshub.DefaultSubject, []byte(`not json`))
	nc.Flush()

	lossy := func(ev glasshouse.Event) int {
		if ev.Message.ID%3 == 0 {
			return -1
		}
		return int(ev.Message.SenderID) % 2
	}
	ss.route.Store(&lossy)
	sent := w.sendRound(t, []glasshouse.Store{ss.store}, 10, 0)
	// The newest message is one nobody published.
	for {
		last := storetest.MustSend(t, ss.store, w.group, w.members[0], "last")
		sent[w.group.ID] = append(sent[w.group.ID], last)
		if lossy(glasshouse.Event{Message: last}) == -1 {
			break
		}
	}
	waitAll(t, cs, w.expected(sent))
	if st := totals(ss.hubs); st.FromDB == 0 {
		t.Fatalf("stats %+v: nothing came from the database", st)
	}
}

// fakeSource is a database of events held in memory.
type fakeSource struct {
	mu     sync.Mutex
	events []glasshouse.Event // ids 1, 2, …
	reads  int
}

func (f *fakeSource) commit(recipients ...int64) glasshouse.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := glasshouse.Event{Message: &glasshouse.Message{ID: int64(len(f.events) + 1)}, Recipients: recipients}
	f.events = append(f.events, ev)
	return ev
}

func (f *fakeSource) LastMessageID(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.events)), nil
}

func (f *fakeSource) EventsAfter(_ context.Context, after int64, limit int) ([]glasshouse.Event, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := slices.Clone(f.events[min(after, int64(len(f.events))):])
	through := int64(len(f.events))
	if len(out) > limit {
		out = out[:limit]
		through = out[limit-1].Message.ID
	}
	return out, through, nil
}

// TestHeldUntilTheMissingOneArrives publishes ids out of order on one node:
// both nodes deliver them in order, the later one held until the earlier
// arrives, without reading the database.
func TestHeldUntilTheMissingOneArrives(t *testing.T) {
	n := natstest.Start(t)
	src := &fakeSource{}
	cfg := testConfig(n.URL())
	cfg.Grace, cfg.Poll = time.Hour, time.Hour
	a, b := natshub.New(cfg), natshub.New(cfg)
	mustStart(t, a, src)
	mustStart(t, b, src)
	onA, onB := collect(t, "node a", a, 7), collect(t, "node b", b, 7)

	first, second := src.commit(7), src.commit(7)
	a.Publish(second)
	time.Sleep(100 * time.Millisecond)
	if got, _ := onB.snapshot(); len(got) != 0 {
		t.Fatalf("node b delivered %v before the event before it", got)
	}
	a.Publish(first)
	onA.waitFor(t, []int64{1, 2})
	onB.waitFor(t, []int64{1, 2})
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.reads != 0 {
		t.Errorf("the database was read %d times; want none", src.reads)
	}
}

// TestLongCatchUpPages drops a run of events longer than one page of the
// database: they all arrive, in order.
func TestLongCatchUpPages(t *testing.T) {
	n := natstest.Start(t)
	src := &fakeSource{}
	cfg := testConfig(n.URL())
	a, b := natshub.New(cfg), natshub.New(cfg)
	mustStart(t, a, src)
	mustStart(t, b, src)
	onB := collect(t, "node b", b, 1)
	var want []int64
	for range 2500 {
		want = append(want, src.commit(1).Message.ID)
	}
	last := src.commit(1)
	want = append(want, last.Message.ID)
	a.Publish(last) // b learns of the rest by the gap
	onB.waitFor(t, want)
}

// TestStartNeedsNATS: a node that cannot reach NATS at start says so.
func TestStartNeedsNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close()
	h := natshub.New(natshub.Config{URL: url})
	defer h.Close()
	if err := h.Start(t.Context(), &fakeSource{}); err == nil {
		t.Fatal("Start succeeded without a NATS server")
	}
}

// postgresURL returns a new PostgreSQL database for t: skipped without
// GLASSHOUSE_TEST_POSTGRES, except under CI, where that fails.
func postgresURL(t *testing.T) string {
	if os.Getenv(pgtest.EnvVar) == "" && os.Getenv("CI") == "true" && !testing.Short() {
		t.Fatalf("CI=true but %s is not set: the cluster tests need PostgreSQL", pgtest.EnvVar)
	}
	return pgtest.URL(t)
}

// TestTwoStoresOnPostgres runs two real nodes' stores on one PostgreSQL
// database, each publishing to its own hub, with members sending through
// both at once and NATS restarted in the middle.
func TestTwoStoresOnPostgres(t *testing.T) {
	url := postgresURL(t)
	n := natstest.Start(t)
	var hubs []*natshub.Hub
	var stores []glasshouse.Store
	for range 2 {
		h := natshub.New(testConfig(n.URL()))
		s, err := postgres.Open(t.Context(), url, sqlstore.Config{Publisher: h})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		mustStart(t, h, s)
		hubs, stores = append(hubs, h), append(stores, s)
	}
	w := newWorld(t, stores[0])
	cs := collectAll(t, w, hubs)

	sent := w.sendRound(t, stores, 15, 0)
	waitAll(t, cs, w.expected(sent))

	var during map[int64][]*glasshouse.Message
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		during = w.sendRound(t, stores, 10, 20*time.Millisecond)
	}()
	time.Sleep(50 * time.Millisecond)
	n.Stop()
	time.Sleep(100 * time.Millisecond)
	n.Restart()
	<-sending
	sent = merge(sent, during)
	sent = merge(sent, w.sendRound(t, stores, 10, 0))
	waitAll(t, cs, w.expected(sent))
	t.Logf("stats: %+v", totals(hubs))
}
