package graph_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/storetest"
)

// TestAccessLog drives Graph requests, granted and denied, sequential and
// concurrent, through the real authorization server, store, recorder and
// feeder, and then reads the Tessera log back: every response that carried
// a verified token has a receipt that verifies with the log key and names
// exactly one entry of the log, included under the checkpoint; the outbox
// is empty; and each member finds all their entries, without a gap, from
// their tags alone.
func TestAccessLog(t *testing.T) {
	ctx := context.Background()
	w := MustWorld(t)
	f := MustFeeder(t, w.env)
	ab := storetest.MustDirect(t, w.store, w.alice, w.bob)
	storetest.MustSend(t, w.store, ab, w.bob, "hello")
	MustToken(t, w.env, w.p, w.bob, consent{scopes: glasshouse.DataScopes, conversations: []int64{ab.ID}})
	alice := MustToken(t, w.env, w.p, w.alice, consent{scopes: glasshouse.DataScopes, conversations: []int64{ab.ID}})
	carol := MustToken(t, w.env, w.p, w.carol, consent{scopes: []string{"profile"}})

	var (
		mu        sync.Mutex
		responses []*response
	)
	keep := func(r *response) {
		mu.Lock()
		responses = append(responses, r)
		mu.Unlock()
	}
	var me meBody
	keep(w.get(t, "/graph/v1/me", alice).OK(http.StatusOK, &me))
	send := map[string]string{"to": w.id(w.bob), "text": "watch this", "client_txn_id": "t1"}
	calls := []struct {
		name   string
		do     func() *response
		status int
	}{
		{"me", func() *response { return w.get(t, "/graph/v1/me", alice) }, 200},
		{"friends", func() *response { return w.get(t, "/graph/v1/me/friends", alice) }, 200},
		{"send", func() *response { return w.post(t, "/graph/v1/me/messages", alice, send) }, 201},
		{"send retry", func() *response { return w.post(t, "/graph/v1/me/messages", alice, send) }, 200},
		{"send to a non-friend", func() *response {
			return w.post(t, "/graph/v1/me/messages", alice, map[string]string{"to": w.id(w.frank), "text": "hi"})
		}, 403},
		{"picked conversation", func() *response {
			return w.get(t, "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", alice)
		}, 200},
		{"conversation not picked", func() *response { return w.get(t, "/graph/v1/me/conversations/xyz/messages", alice) }, 403},
		{"bad limit", func() *response { return w.get(t, "/graph/v1/me/friends?limit=0", alice) }, 400},
		{"inbox", func() *response { return w.get(t, "/graph/v1/me/inbox", alice) }, 404},
		{"carol's friends", func() *response { return w.get(t, "/graph/v1/me/friends", carol) }, 403},
		{"carol's profile", func() *response { return w.get(t, "/graph/v1/me", carol) }, 200},
	}
	for _, c := range calls {
		r := c.do()
		if r.Status != c.status {
			t.Fatalf("%s: status %d %s, want %d", c.name, r.Status, r.Body, c.status)
		}
		keep(r)
	}
	// Concurrent requests of two members: their counters must stay gap-free.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 5 {
				token := []string{alice, carol}[(i+j)%2]
				keep(w.get(t, "/graph/v1/me/friends", token))
			}
		})
	}
	wg.Wait()
	// Requests without a verified token are not recorded and get no receipt.
	for _, token := range []string{"", "not-a-token"} {
		if r := w.get(t, "/graph/v1/me", token); r.Header.Get(accesslog.ReceiptHeader) != "" {
			t.Errorf("a request without a valid token got a receipt")
		}
	}

	receipts := make([]*accesslog.Receipt, len(responses))
	for i, r := range responses {
		rc, err := accesslog.VerifyReceipt(r.Header.Get(accesslog.ReceiptHeader), w.key.Verifier)
		if err != nil {
			t.Fatalf("response %d (%d %s): %v", i, r.Status, r.Body, err)
		}
		receipts[i] = rc
	}

	routes := []string{graph.RouteMe, graph.RouteFriends, graph.RouteSend, graph.RouteMessages, "/graph/v1/"}
	// The log holds the partner's agreement approval too.
	approvals, err := w.store.AgreementEvents(ctx, w.p.ID)
	if err != nil {
		t.Fatal(err)
	}
	cp := mustDrained(t, w.env, f, uint64(len(responses)+len(approvals)))
	entries := map[accesslog.EventID]uint64{} // event -> index
	tags := map[accesslog.Tag]uint64{}        // tag -> index
	raw := make([][]byte, cp.Size)
	for i := range cp.Size {
		b, err := f.Log().Entry(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		d, err := accesslog.DecodeAny(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if a := d.Agreement; a != nil {
			if a.PartnerID != w.p.ClientID || a.Action != accesslog.Approved {
				t.Errorf("entry %d: agreement entry %+v; want %s's approval", i, a, w.p.ClientID)
			}
			continue
		}
		e := d.Access
		if _, dup := entries[e.EventID]; dup {
			t.Fatalf("event %s is in the log twice", e.EventID)
		}
		if _, dup := tags[e.Tag]; dup {
			t.Fatalf("tag %s is in the log twice", e.Tag)
		}
		entries[e.EventID], tags[e.Tag], raw[i] = i, i, b
		if e.PartnerID != w.p.ClientID || !slices.Contains(routes, e.Endpoint) {
			t.Errorf("entry %d names partner %q, endpoint %q", i, e.PartnerID, e.Endpoint)
		}
	}
	for i, rc := range receipts {
		index, ok := entries[rc.EventID]
		if !ok {
			t.Fatalf("receipt %d: event %s is not in the log", i, rc.EventID)
		}
		if err := rc.Check(raw[index]); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
		proof, err := accesslog.InclusionProof(ctx, f.Log(), index, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := accesslog.VerifyInclusion(index, cp.Size, rc.LeafHash, proof, cp.Hash); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
		if got, integrated, err := w.store.EventLogIndex(ctx, rc.EventID); err != nil || !integrated || got != index {
			t.Errorf("receipt %d: the store has event %s at %d (integrated %v, %v); the log at %d", i, rc.EventID, got, integrated, err, index)
		}
	}
	if p, err := w.store.PendingEntries(ctx, 10); err != nil || len(p) != 0 {
		t.Errorf("outbox after draining: %d rows, %v", len(p), err)
	}

	// Each member finds all and only their entries from their tags.
	found := 0
	for _, m := range []*glasshouse.Member{w.alice, w.carol, w.bob} {
		n, err := w.store.AccessCount(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := w.store.MemberSecret(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, err := accesslog.DeriveMemberKey(w.master, secret)
		if err != nil {
			t.Fatal(err)
		}
		trail := key.FindTrail(n, func(tag accesslog.Tag) (uint64, bool) { i, ok := tags[tag]; return i, ok })
		if len(trail.Missing) != 0 || uint64(len(trail.Found)) != n {
			t.Errorf("%s: counter %d, found %d entries, missing %v", m.Handle, n, len(trail.Found), trail.Missing)
		}
		recs := w.Records(t, m)
		if len(recs) != len(trail.Found) {
			t.Fatalf("%s: %d records, %d entries found", m.Handle, len(recs), len(trail.Found))
		}
		for i, s := range trail.Found {
			if rec := recs[i]; rec.Counter != s.Counter || !rec.Integrated || rec.LogIndex != s.Index || entries[rec.EventID] != s.Index {
				t.Errorf("%s: record %+v, found counter %d at %d", m.Handle, rec, s.Counter, s.Index)
			}
		}
		found += len(trail.Found)
	}
	if found != len(responses) {
		t.Errorf("the members found %d entries; %d requests carried a token", found, len(responses))
	}
	if n, _ := w.store.AccessCount(ctx, w.bob.ID); n != 0 {
		t.Errorf("bob made no request but has counter %d", n)
	}
	// The send and its retry stored the message once.
	page, err := w.store.Messages(ctx, glasshouse.MessageQuery{ConversationID: ab.ID, MemberID: w.bob.ID})
	if err != nil || len(page.Messages) != 2 || page.Messages[0].ViaPartner != w.p.Name {
		t.Errorf("bob's conversation: %+v, %v", page, err)
	}
}

// mustDrained waits until the feeder has integrated every outbox row and a
// checkpoint of size n is published, and returns it.
func mustDrained(t *testing.T, e *env, f *accesslog.Feeder, n uint64) *accesslog.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending, err := e.store.PendingEntries(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := f.Checkpoint(context.Background())
		if len(pending) == 0 && err == nil && cp.Size == n {
			return cp
		}
		if time.Now().After(deadline) {
			var size uint64
			if cp != nil {
				size = cp.Size
			}
			t.Fatalf("after 20 s: %d rows pending, checkpoint size %d (%v); want 0 and %d", len(pending), size, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
