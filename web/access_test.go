package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
	"github.com/glasshouse/glasshouse/web"
	"golang.org/x/mod/sumdb/tlog"
)

// accessServer is a test server whose access records go through a real
// Recorder into a real Tessera log, fed by a real Feeder.
type accessServer struct {
	*testServer
	Feeder   *accesslog.Feeder
	Recorder *accesslog.Recorder
	Key      *accesslog.Key
	Master   []byte
	Partner  *glasshouse.Partner
}

// MustAccessServer starts a test server with a transparency log in a
// temporary folder, and registers the partner "Streamflix".
func MustAccessServer(tb testing.TB) *accessServer {
	tb.Helper()
	ctx := context.Background()
	_, key, err := accesslog.NewKey("glasshouse.test/log", nil)
	if err != nil {
		tb.Fatal(err)
	}
	as := &accessServer{Key: key, Master: make([]byte, accesslog.MinMasterKeySize)}
	rand.Read(as.Master)
	as.testServer = MustServer(tb, func(c *web.Config) {
		as.Feeder, err = accesslog.NewFeeder(ctx, accesslog.FeederConfig{
			Dir: tb.TempDir(), Key: key, Outbox: accesslog.StoreOutbox{Store: c.Store.(glasshouse.AccessStore)},
			CheckpointInterval: 100 * time.Millisecond,
		})
		if err != nil {
			tb.Fatal(err)
		}
		c.AccessLog = as.Feeder.Log()
		c.MemberKey = func(ctx context.Context, memberID int64) (accesslog.MemberKey, error) {
			return as.Recorder.MemberKey(ctx, memberID)
		}
	})
	// Cleanups run last-in first-out: the feeder closes before the store.
	tb.Cleanup(func() {
		if err := as.Feeder.Close(ctx); err != nil {
			tb.Errorf("close feeder: %v", err)
		}
	})
	if as.Recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: as.Store, MasterKey: as.Master, Signer: key.Signer}); err != nil {
		tb.Fatal(err)
	}
	as.Partner, err = as.Store.CreatePartner(ctx, glasshouse.NewPartner{
		Name:          "Streamflix",
		RedirectURIs:  []string{"https://streamflix.example/callback"},
		Scopes:        []string{glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend},
		Purpose:       "Lets members share what they watch with friends.",
		RetentionDays: 30,
		ExpiresAt:     time.Now().Add(365 * 24 * time.Hour),
	}, "client-streamflix", []byte("secret hash"))
	if err != nil {
		tb.Fatal(err)
	}
	return as
}

// MustRecord records one Graph API access by the partner for m, as the
// Graph API does, and returns the record (event id and counter set).
func (as *accessServer) MustRecord(tb testing.TB, m *member, endpoint string, granted bool, scopes ...string) *glasshouse.AccessRecord {
	tb.Helper()
	rec := &glasshouse.AccessRecord{
		PartnerID: as.Partner.ID, ClientID: as.Partner.ClientID, MemberID: m.ID, AgreementVersion: 1,
		Endpoint: endpoint, Scopes: scopes, Granted: granted, Items: 2, At: time.Now(),
	}
	if !granted {
		rec.Reason, rec.Items = "scope_not_granted", 0
	}
	if _, err := as.Recorder.Record(context.Background(), rec); err != nil {
		tb.Fatalf("record: %v", err)
	}
	return rec
}

// MustFeed moves every pending entry into the log and waits until a
// checkpoint covers them all.
func (as *accessServer) MustFeed(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	if _, err := as.Feeder.Feed(ctx); err != nil {
		tb.Fatalf("feed: %v", err)
	}
	size, err := as.Store.LogSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	eventually(tb, fmt.Sprintf("a checkpoint of size %d", size), func() bool {
		cp, err := as.Feeder.Checkpoint(ctx)
		return err == nil && cp.Size >= size
	})
}

// accessPage is the body of GET /api/v1/me/access.
type accessPage struct {
	Count      uint64
	Missing    []uint64
	Checkpoint *string
	Next       *uint64
	MemberKey  []byte `json:"member_key"`
	Events     []struct {
		Counter     uint64
		EventID     string `json:"event_id"`
		PartnerID   int64  `json:"partner_id"`
		ClientID    string `json:"client_id"`
		PartnerName string `json:"partner_name"`
		Endpoint    string
		Scopes      []string
		Decision    string
		Reason      string
		Items       int
		Time        time.Time
		Status      string
		LogIndex    *uint64 `json:"log_index"`
		Entry       []byte
		Proof       *[][]byte
	}
}

func (as *accessServer) MustAccess(tb testing.TB, m *member, query string) accessPage {
	tb.Helper()
	var page accessPage
	as.Do(tb, m.Token, "GET", "/api/v1/me/access"+query, nil).MustStatus(tb, http.StatusOK).Decode(tb, &page)
	return page
}

// memberTag is HMAC-SHA256(K_member, "glasshouse/access/v1" || counter), the
// tag docs/log-format.md specifies, as the test computes it.
func (as *accessServer) memberTag(tb testing.TB, memberID int64, counter uint64) []byte {
	tb.Helper()
	secret, err := as.Store.MemberSecret(context.Background(), memberID)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := accesslog.DeriveMemberKey(as.Master, secret)
	if err != nil {
		tb.Fatal(err)
	}
	t := k.Tag(counter)
	return t[:]
}

func TestMyAccess(t *testing.T) {
	as := MustAccessServer(t)
	alice, bob := as.MustMember(t, "alice"), as.MustMember(t, "bobby")

	// Interleaved, so that the two members' entries share the log's tree.
	want := map[int64][]*glasshouse.AccessRecord{}
	for i, step := range []struct {
		m        *member
		endpoint string
		granted  bool
		scopes   []string
	}{
		{alice, "GET /graph/v1/me/friends", true, []string{glasshouse.ScopeFriends}},
		{bob, "GET /graph/v1/me/friends", true, []string{glasshouse.ScopeFriends}},
		{alice, "GET /graph/v1/conversations/{id}/messages", false, []string{glasshouse.ScopeMessagesRead}},
		{bob, "POST /graph/v1/messages", true, []string{glasshouse.ScopeMessagesSend}},
		{alice, "POST /graph/v1/messages", true, []string{glasshouse.ScopeMessagesSend}},
	} {
		rec := as.MustRecord(t, step.m, step.endpoint, step.granted, step.scopes...)
		if rec.Counter != uint64(len(want[step.m.ID])+1) {
			t.Fatalf("step %d: counter %d", i, rec.Counter)
		}
		want[step.m.ID] = append(want[step.m.ID], rec)
	}
	as.MustFeed(t)
	// One more for alice that stays in the outbox.
	want[alice.ID] = append(want[alice.ID], as.MustRecord(t, alice, "GET /graph/v1/me", true, glasshouse.ScopeProfile))

	for _, m := range []*member{alice, bob} {
		t.Run(m.Handle, func(t *testing.T) {
			page := as.MustAccess(t, m, "")
			recs := want[m.ID]
			if page.Count != uint64(len(recs)) || len(page.Missing) != 0 || page.Next != nil || page.Checkpoint == nil {
				t.Fatalf("count %d, missing %v, next %v, checkpoint %v; want %d, none, none and a checkpoint",
					page.Count, page.Missing, page.Next, page.Checkpoint, len(recs))
			}
			cp := tlogtest.Open(t, []byte(*page.Checkpoint), as.Key.VerifierKey)
			size, root := cp.N, cp.Hash
			if size != 5 {
				t.Fatalf("checkpoint size %d, want 5", size)
			}
			if len(page.Events) != len(recs) {
				t.Fatalf("%d events, want %d (%s's own)", len(page.Events), len(recs), m.Handle)
			}
			for i, ev := range page.Events {
				rec := recs[i]
				wantDecision := map[bool]string{true: "granted", false: "denied"}[rec.Granted]
				if ev.Counter != uint64(i+1) || ev.EventID != fmt.Sprintf("%x", rec.EventID) ||
					ev.PartnerID != as.Partner.ID || ev.ClientID != "client-streamflix" || ev.PartnerName != "Streamflix" ||
					ev.Endpoint != rec.Endpoint || !slices.Equal(ev.Scopes, rec.Scopes) || ev.Decision != wantDecision ||
					ev.Reason != rec.Reason || ev.Items != rec.Items || !ev.Time.Equal(rec.At.Truncate(time.Minute)) {
					t.Errorf("event %d = %+v; want the record %+v", i, ev, rec)
				}
				if i == len(recs)-1 && m == alice {
					if ev.Status != "pending" || ev.LogIndex != nil || ev.Entry != nil || ev.Proof != nil {
						t.Errorf("unfed event = status %q, index %v, entry %x, proof %v; want pending and nothing else", ev.Status, ev.LogIndex, ev.Entry, ev.Proof)
					}
					continue
				}
				if ev.Status != "included" || ev.LogIndex == nil || ev.Proof == nil {
					t.Fatalf("event %d: status %q, index %v, proof %v; want included with both", i, ev.Status, ev.LogIndex, ev.Proof)
				}
				// The entry is the member's: its event id, and the tag of
				// their counter under their key.
				if !bytes.Equal(ev.Entry[1:17], rec.EventID[:]) {
					t.Errorf("event %d: entry %x does not carry event id %x", i, ev.Entry, rec.EventID)
				}
				if tag := ev.Entry[len(ev.Entry)-32:]; !bytes.Equal(tag, as.memberTag(t, m.ID, ev.Counter)) {
					t.Errorf("event %d: entry tag %x is not the member's tag for counter %d", i, tag, ev.Counter)
				}
				// The key the member is given finds the same tag.
				mac := hmac.New(sha256.New, page.MemberKey)
				mac.Write(binary.BigEndian.AppendUint64([]byte("glasshouse/access/v1"), ev.Counter))
				if tag := ev.Entry[len(ev.Entry)-32:]; !bytes.Equal(tag, mac.Sum(nil)) {
					t.Errorf("event %d: the member_key given (%x) does not make the entry's tag", i, page.MemberKey)
				}
				// And the log includes it, by x/mod's tlog.
				proof := make(tlog.RecordProof, len(*ev.Proof))
				for j, h := range *ev.Proof {
					copy(proof[j][:], h)
				}
				if err := tlog.CheckRecord(proof, size, root, int64(*ev.LogIndex), tlog.RecordHash(ev.Entry)); err != nil {
					t.Errorf("event %d: inclusion of entry %d in tree %d: %v", i, *ev.LogIndex, size, err)
				}
				// A proof does not verify another entry at that index.
				if err := tlog.CheckRecord(proof, size, root, int64(*ev.LogIndex), tlog.RecordHash(append(ev.Entry, 0))); err == nil {
					t.Errorf("event %d: the proof also verifies a different entry", i)
				}
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		page := as.MustAccess(t, alice, "?after=1&limit=2")
		var counters []uint64
		for _, ev := range page.Events {
			counters = append(counters, ev.Counter)
		}
		if !slices.Equal(counters, []uint64{2, 3}) || page.Next == nil || *page.Next != 3 || page.Count != 4 || len(page.Missing) != 0 {
			t.Fatalf("page after 1 = counters %v, next %v, count %d, missing %v; want [2 3], 3, 4, none", counters, page.Next, page.Count, page.Missing)
		}
		if last := as.MustAccess(t, alice, "?after=3"); len(last.Events) != 1 || last.Events[0].Counter != 4 || last.Next != nil {
			t.Fatalf("last page = %+v; want counter 4 and no next", last)
		}
	})
}

func TestMyAccessRefused(t *testing.T) {
	as := MustAccessServer(t)
	alice := as.MustMember(t, "alice")
	for _, tc := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"no session", "", "", http.StatusUnauthorized, glasshouse.EUNAUTHORIZED},
		{"unknown token", "not-a-session-token", "", http.StatusUnauthorized, glasshouse.EUNAUTHORIZED},
		{"negative after", alice.Token, "?after=-1", http.StatusBadRequest, glasshouse.EINVALID},
		{"after not a number", alice.Token, "?after=one", http.StatusBadRequest, glasshouse.EINVALID},
		{"limit zero", alice.Token, "?limit=0", http.StatusBadRequest, glasshouse.EINVALID},
		{"limit too large", alice.Token, "?limit=" + strconv.Itoa(glasshouse.MaxPageSize+1), http.StatusBadRequest, glasshouse.EINVALID},
		{"after with a sign", alice.Token, "?after=%2B0", http.StatusBadRequest, glasshouse.EINVALID},
		{"after with a leading zero", alice.Token, "?after=01", http.StatusBadRequest, glasshouse.EINVALID},
		{"limit with a leading zero", alice.Token, "?limit=010", http.StatusBadRequest, glasshouse.EINVALID},
		{"empty limit", alice.Token, "?limit=", http.StatusBadRequest, glasshouse.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.Do(t, tc.token, "GET", "/api/v1/me/access"+tc.query, nil).MustError(t, tc.status, tc.code)
		})
	}
}

// An entry in the log that does not carry the member's tag for its
// counter is a disagreement between the log and the store: refused, not
// shown as the member's.
func TestMyAccessWrongTag(t *testing.T) {
	as := MustAccessServer(t)
	alice := as.MustMember(t, "alice")
	rec := &glasshouse.AccessRecord{
		PartnerID: as.Partner.ID, ClientID: as.Partner.ClientID, MemberID: alice.ID, AgreementVersion: 1,
		Endpoint: "GET /graph/v1/me", Scopes: []string{glasshouse.ScopeProfile}, Granted: true, Items: 1, At: time.Now(),
	}
	rand.Read(rec.EventID[:])
	err := as.Store.RecordAccess(context.Background(), rec, func(counter uint64, _ []byte) ([]byte, error) {
		var wrong accesslog.Tag // not HMAC(K_alice, counter)
		wrong[0] = 1
		return accesslog.EntryOf(rec, wrong).MarshalBinary()
	})
	if err != nil {
		t.Fatal(err)
	}
	as.MustFeed(t)
	as.Do(t, alice.Token, "GET", "/api/v1/me/access", nil).MustError(t, http.StatusInternalServerError, glasshouse.EINTERNAL)
}

func TestMyAccessFirst(t *testing.T) {
	as := MustAccessServer(t)
	alice := as.MustMember(t, "alice")
	page := as.MustAccess(t, alice, "")
	if page.Count != 0 || len(page.Events) != 0 || len(page.Missing) != 0 || page.Next != nil {
		t.Fatalf("empty page = %+v", page)
	}
	as.MustRecord(t, alice, "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	page = as.MustAccess(t, alice, "")
	if page.Count != 1 || len(page.Events) != 1 || page.Events[0].Status != "pending" {
		t.Fatalf("page with one unfed event = %+v", page)
	}
}
