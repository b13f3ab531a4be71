package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/export"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
	"golang.org/x/mod/sumdb/tlog"
)

// stores are the store implementations the tests run on.
var stores = []struct {
	name string
	open func(tb testing.TB) *sqlstore.Store
}{
	{"sqlite", MustSQLite},
	{"postgres", func(tb testing.TB) *sqlstore.Store { return pgtest.Open(tb, sqlstore.Config{}) }},
}

// MustSQLite opens a store on a new SQLite file, closed when tb ends.
func MustSQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// MustMember creates a member with private email and phone, a display name
// for friends only, and returns it as stored.
func MustMember(tb testing.TB, s glasshouse.Store, handle, displayName string) *glasshouse.Member {
	tb.Helper()
	m := storetest.NewMember(handle)
	m.DisplayName, m.Email = displayName, handle+"-private-mail@example.org"
	m.Phone = "+1 555 0100 " + strconv.Itoa(len(handle)*7+int(handle[0]))
	m.PictureURL = "https://pictures.example/" + handle + ".png"
	storetest.MustCreateMember(tb, s, m, "hash-of-"+handle)
	stored, err := s.MemberByID(context.Background(), m.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return stored
}

// MustSend sends text from m in conversation c and returns the message.
func MustSend(tb testing.TB, s glasshouse.Store, m *glasshouse.Member, c *glasshouse.Conversation, text, txn string) *glasshouse.Message {
	tb.Helper()
	msg, _, err := s.SendMessage(context.Background(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: m.ID, Text: text, ClientTxnID: txn})
	if err != nil {
		tb.Fatalf("SendMessage(%s, %q): %v", m.Handle, text, err)
	}
	return msg
}

// MustPartner registers and approves a partner.
func MustPartner(tb testing.TB, s glasshouse.Store, name string, scopes ...string) *glasshouse.Partner {
	tb.Helper()
	ctx := context.Background()
	p, err := s.CreatePartner(ctx, glasshouse.NewPartner{
		Name: name, RedirectURIs: []string{"https://" + strings.ToLower(name) + ".example/callback"},
		Scopes: scopes, Purpose: name + " needs this to work for you.", RetentionDays: 30,
		ExpiresAt: time.Now().Add(365 * 24 * time.Hour),
	}, "client-"+strings.ToLower(name), []byte("secret hash"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.ApproveAgreement(ctx, p.ClientID, time.Now()); err != nil {
		tb.Fatal(err)
	}
	return p
}

// MustGrant saves m's consent to p.
func MustGrant(tb testing.TB, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner, relay string, scopes ...string) *glasshouse.Grant {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	g, err := s.SaveGrant(context.Background(), glasshouse.Grant{
		MemberID: m.ID, PartnerID: p.ID, AgreementVersion: 1, Scopes: scopes,
		ConfirmedAt: now, ExpiresAt: now.Add(glasshouse.GrantLifetime),
	}, relay)
	if err != nil {
		tb.Fatalf("SaveGrant(%s, %s): %v", m.Handle, p.Name, err)
	}
	return g
}

// world is a small platform: alice (who exports), her friend bob, carol
// (bob's friend, in a group with alice, not her friend), dave (whom alice
// asked to be friends) and eve (whom alice blocked), two partners, grants,
// and access records in a real Tessera log.
type world struct {
	Store    *sqlstore.Store
	Feeder   *accesslog.Feeder
	Key      *accesslog.Key
	Master   []byte
	Recorder *accesslog.Recorder

	Alice, Bob, Carol, Dave, Eve *glasshouse.Member
	Streamflix, Shopzon          *glasshouse.Partner

	Direct, Group, Others *glasshouse.Conversation // Others is bob and carol's, without alice
	// Sent is what alice can see in each of her conversations, in seq order.
	Sent      map[int64][]*glasshouse.Message
	Hidden    *glasshouse.Message // bob's message that alice deleted for herself
	Script    string              // a message text with markup
	AliceTxn  string              // the client txn id of one of alice's messages
	BobTxn    string              // the client txn id of one of bob's messages
	OtherText []string            // the texts of Others

	AliceGrants []*glasshouse.Grant
	BobRelay    string
	Access      map[int64][]*glasshouse.AccessRecord // by member id, in counter order
}

// MustWorld builds the world on the store open returns.
func MustWorld(tb testing.TB, open func(testing.TB) *sqlstore.Store) *world {
	tb.Helper()
	ctx := context.Background()
	w := &world{Store: open(tb), Sent: map[int64][]*glasshouse.Message{}, Access: map[int64][]*glasshouse.AccessRecord{},
		Master: make([]byte, accesslog.MinMasterKeySize)}
	s := w.Store
	rand.Read(w.Master)
	var err error
	if _, w.Key, err = accesslog.NewKey("glasshouse.test/log", nil); err != nil {
		tb.Fatal(err)
	}
	w.Feeder, err = accesslog.NewFeeder(ctx, accesslog.FeederConfig{
		Dir: tb.TempDir(), Key: w.Key, Outbox: accesslog.StoreOutbox{Store: s}, CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	// Cleanups run last-in first-out: the feeder closes before the store.
	tb.Cleanup(func() {
		if err := w.Feeder.Close(context.Background()); err != nil {
			tb.Errorf("close feeder: %v", err)
		}
	})
	if w.Recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: s, MasterKey: w.Master, Signer: w.Key.Signer}); err != nil {
		tb.Fatal(err)
	}

	w.Alice = MustMember(tb, s, "alice", "Alice Exporter")
	w.Bob = MustMember(tb, s, "bobby", "Bob Friendly-Name")
	w.Carol = MustMember(tb, s, "carol", "Carol Hidden-Name")
	w.Dave = MustMember(tb, s, "dave_", "Dave Hidden-Name")
	w.Eve = MustMember(tb, s, "eve_x", "Eve Hidden-Name")
	storetest.MustFriends(tb, s, w.Alice, w.Bob)
	storetest.MustFriends(tb, s, w.Bob, w.Carol)
	if _, err := s.RequestFriend(ctx, w.Carol.ID, w.Alice.Handle); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.RequestFriend(ctx, w.Alice.ID, w.Dave.Handle); err != nil {
		tb.Fatal(err)
	}
	if err := s.Block(ctx, w.Alice.ID, w.Eve.Handle); err != nil {
		tb.Fatal(err)
	}

	if w.Direct, _, err = s.CreateDirect(ctx, w.Alice.ID, w.Bob.Handle); err != nil {
		tb.Fatal(err)
	}
	if w.Group, err = s.CreateGroup(ctx, w.Bob.ID, glasshouse.NewGroup{Title: "Film club", Members: []string{w.Alice.Handle, w.Carol.Handle}}); err != nil {
		tb.Fatal(err)
	}
	if w.Others, _, err = s.CreateDirect(ctx, w.Bob.ID, w.Carol.Handle); err != nil {
		tb.Fatal(err)
	}

	// More than two pages of history in the direct conversation.
	w.Script, w.AliceTxn, w.BobTxn = `<script>alert("owned")</script>`, "alice-txn-4471", "bobby-txn-9923"
	for i := range 2*glasshouse.MaxPageSize + 7 {
		from, txn, text := w.Alice, "", fmt.Sprintf("direct message %04d", i)
		if i%3 == 1 {
			from = w.Bob
		}
		switch i {
		case 5:
			txn = w.AliceTxn
		case 7:
			txn, text = w.BobTxn, w.Script
		}
		w.Sent[w.Direct.ID] = append(w.Sent[w.Direct.ID], MustSend(tb, s, from, w.Direct, text, txn))
	}
	w.Hidden = MustSend(tb, s, w.Bob, w.Direct, "deleted-for-alice 5120", "")
	if err := s.DeleteForMe(ctx, w.Alice.ID, w.Direct.ID, w.Hidden.Seq); err != nil {
		tb.Fatal(err)
	}
	for _, m := range []*glasshouse.Member{w.Bob, w.Carol, w.Alice, w.Carol} {
		w.Sent[w.Group.ID] = append(w.Sent[w.Group.ID], MustSend(tb, s, m, w.Group, "film club note from "+m.Handle, ""))
	}
	for i, m := range []*glasshouse.Member{w.Bob, w.Carol} {
		text := fmt.Sprintf("bob-carol secret %d-8812", i)
		MustSend(tb, s, m, w.Others, text, "")
		w.OtherText = append(w.OtherText, text)
	}

	w.Streamflix = MustPartner(tb, s, "Streamflix", glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	w.Shopzon = MustPartner(tb, s, "Shopzon", glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	w.AliceGrants = []*glasshouse.Grant{
		MustGrant(tb, s, w.Alice, w.Streamflix, "alice.streamflix@relay.example", glasshouse.ScopeMessagesSend),
		MustGrant(tb, s, w.Alice, w.Shopzon, "alice.shopzon@relay.example", glasshouse.ScopeProfile, glasshouse.ScopeEmail),
	}
	w.BobRelay = "bobby-relay-7310@relay.example"
	MustGrant(tb, s, w.Bob, w.Shopzon, w.BobRelay, glasshouse.ScopeEmail)

	// Access records of both, interleaved in the log, over more than a
	// page of alice's: a share through Streamflix, reads, refusals.
	share := w.record(w.Alice, w.Streamflix, "POST /graph/v1/me/messages", "", glasshouse.ScopeMessagesSend)
	var viaStreamflix *glasshouse.Message
	_, err = w.Recorder.RecordWith(ctx, share, func(ctx context.Context, tx glasshouse.Within) (err error) {
		viaStreamflix, _, err = tx.SendMessage(ctx, glasshouse.NewMessage{
			ConversationID: w.Direct.ID, SenderID: w.Alice.ID, Text: "Alice is watching Metropolis", ViaPartner: w.Streamflix.Name})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	w.Sent[w.Direct.ID] = append(w.Sent[w.Direct.ID], viaStreamflix)
	w.Access[w.Alice.ID] = append(w.Access[w.Alice.ID], share)
	for i := range glasshouse.MaxPageSize + 40 {
		switch {
		case i%50 == 0:
			w.MustRecord(tb, w.Bob, w.Shopzon, "GET /graph/v1/me", "", glasshouse.ScopeEmail)
		case i == 7:
			w.MustRecord(tb, w.Alice, w.Streamflix, "GET /graph/v1/me/conversations/{id}/messages", "scope_not_granted", glasshouse.ScopeMessagesRead)
		default:
			w.MustRecord(tb, w.Alice, w.Shopzon, "GET /graph/v1/me", "", glasshouse.ScopeProfile, glasshouse.ScopeEmail)
		}
	}
	w.MustFeed(tb)
	// One more for each that stays in the outbox.
	w.MustRecord(tb, w.Alice, w.Shopzon, "GET /graph/v1/me", "", glasshouse.ScopeProfile)
	w.MustRecord(tb, w.Bob, w.Shopzon, "GET /graph/v1/me", "", glasshouse.ScopeEmail)
	return w
}

// record returns an access record of p for m: denied, with no items, when
// reason is set.
func (w *world) record(m *glasshouse.Member, p *glasshouse.Partner, endpoint, reason string, scopes ...string) *glasshouse.AccessRecord {
	rec := &glasshouse.AccessRecord{
		PartnerID: p.ID, ClientID: p.ClientID, MemberID: m.ID, AgreementVersion: 1, Endpoint: endpoint,
		Scopes: scopes, Granted: reason == "", Reason: reason, Items: 1, At: time.Now(),
	}
	if reason != "" {
		rec.Items = 0
	}
	return rec
}

// MustRecord records one access as the Graph API does.
func (w *world) MustRecord(tb testing.TB, m *glasshouse.Member, p *glasshouse.Partner, endpoint, reason string, scopes ...string) {
	tb.Helper()
	rec := w.record(m, p, endpoint, reason, scopes...)
	if _, err := w.Recorder.Record(context.Background(), rec); err != nil {
		tb.Fatalf("record: %v", err)
	}
	w.Access[m.ID] = append(w.Access[m.ID], rec)
}

// MustFeed moves every pending entry into the log and waits for a
// checkpoint that covers them all.
func (w *world) MustFeed(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for {
		n, err := w.Feeder.Feed(ctx)
		if err != nil {
			tb.Fatalf("feed: %v", err)
		} else if n == 0 {
			break
		}
	}
	size, err := w.Store.LogSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cp, err := w.Feeder.Checkpoint(ctx); err == nil && cp.Size >= size {
			return
		} else if time.Now().After(deadline) {
			tb.Fatalf("no checkpoint of size %d after 10 s (last: %v, %v)", size, cp, err)
		}
	}
}

// Exporter returns an exporter of the world's store and log.
func (w *world) Exporter() *export.Exporter {
	return export.New(export.Config{Store: w.Store, Log: w.Feeder.Log(), LogKey: w.Key.VerifierKey, MemberKey: w.Recorder.MemberKey, Now: time.Now})
}

// MustExport exports m's data and returns the zip's files by name.
func MustExport(tb testing.TB, x *export.Exporter, m *glasshouse.Member) map[string][]byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := x.Write(context.Background(), m.ID, &buf); err != nil {
		tb.Fatalf("export %s: %v", m.Handle, err)
	}
	files, err := unzip(buf.Bytes())
	if err != nil {
		tb.Fatalf("export %s: %v", m.Handle, err)
	}
	return files
}

func unzip(b []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("unzip: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("unzip %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("unzip %s: %w", f.Name, err)
		}
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("unzip: %s twice", f.Name)
		}
		files[f.Name] = b
	}
	return files, nil
}

// decode unmarshals the named file, strictly.
func decode(tb testing.TB, files map[string][]byte, name string, v any) {
	tb.Helper()
	b, ok := files[name]
	if !ok {
		tb.Fatalf("no %s in the zip", name)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		tb.Fatalf("%s: %v\n%s", name, err, b)
	}
}

func messagesFile(c *glasshouse.Conversation) string { return fmt.Sprintf("messages/%d.json", c.ID) }

func TestWrite(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			w := MustWorld(t, st.open)
			files := MustExport(t, w.Exporter(), w.Alice)

			t.Run("files", func(t *testing.T) {
				var names []string
				for name := range files {
					names = append(names, name)
				}
				want := []string{"README.txt", "access.json", "checkpoint.txt", "conversations.json", "friends.json",
					"grants.json", "index.html", "log-key.txt", messagesFile(w.Direct), messagesFile(w.Group), "profile.json"}
				slices.Sort(names)
				slices.Sort(want)
				if !slices.Equal(names, want) {
					t.Errorf("files %q, want %q", names, want)
				}
				if readme := string(files["README.txt"]); !strings.Contains(readme, "docs/audit.md") || !strings.Contains(readme, "tlog.CheckRecord") {
					t.Errorf("README.txt does not say how to check the proofs:\n%s", readme)
				}
			})

			t.Run("profile", func(t *testing.T) {
				var got glasshouse.Member
				decode(t, files, "profile.json", &got)
				if !got.CreatedAt.Equal(w.Alice.CreatedAt) {
					t.Errorf("created_at %v, want %v", got.CreatedAt, w.Alice.CreatedAt)
				}
				got.CreatedAt = w.Alice.CreatedAt
				if got != *w.Alice || got.Email == "" || got.Phone == "" || got.Visibility != glasshouse.DefaultVisibility {
					t.Errorf("profile.json = %+v, want alice's whole profile %+v", got, *w.Alice)
				}
			})

			t.Run("friends", func(t *testing.T) {
				var got struct {
					Friends  []*glasshouse.Member
					Requests glasshouse.FriendRequests
					Blocked  []*glasshouse.Member
				}
				decode(t, files, "friends.json", &got)
				handles := func(ms []*glasshouse.Member) []string {
					var hs []string
					for _, m := range ms {
						hs = append(hs, m.Handle)
					}
					return hs
				}
				if hs := handles(got.Friends); !slices.Equal(hs, []string{"bobby"}) || got.Friends[0].DisplayName != w.Bob.DisplayName || got.Friends[0].Email != "" {
					t.Errorf("friends = %+v, want bobby with his display name and no email", got.Friends)
				}
				if len(got.Requests.Incoming) != 1 || got.Requests.Incoming[0].From.Handle != "carol" || got.Requests.Incoming[0].From.DisplayName != "" {
					t.Errorf("incoming requests = %+v, want one from carol, her name hidden", got.Requests.Incoming)
				}
				if len(got.Requests.Outgoing) != 1 || got.Requests.Outgoing[0].To.Handle != "dave_" {
					t.Errorf("outgoing requests = %+v, want one to dave_", got.Requests.Outgoing)
				}
				if hs := handles(got.Blocked); !slices.Equal(hs, []string{"eve_x"}) {
					t.Errorf("blocked = %q, want eve_x", hs)
				}
			})

			t.Run("messages", func(t *testing.T) {
				var convs []struct {
					glasshouse.Conversation
					MessagesFile string `json:"messages_file"`
					Messages     int    `json:"messages"`
				}
				decode(t, files, "conversations.json", &convs)
				var ids []int64
				for _, c := range convs {
					ids = append(ids, c.ID)
					want := w.Sent[c.ID]
					if c.MessagesFile != fmt.Sprintf("messages/%d.json", c.ID) || c.Messages != len(want) {
						t.Errorf("conversation %d: file %q with %d messages, want %d", c.ID, c.MessagesFile, c.Messages, len(want))
					}
					for _, m := range c.Members {
						if m.ID != w.Alice.ID && m.Email != "" {
							t.Errorf("conversation %d shows the email of %s", c.ID, m.Handle)
						}
					}
					var got []*glasshouse.Message
					decode(t, files, c.MessagesFile, &got)
					if len(got) != len(want) {
						t.Fatalf("%s: %d messages, want %d", c.MessagesFile, len(got), len(want))
					}
					for i, m := range got {
						wm := want[i]
						if m.ID != wm.ID || m.ConversationID != c.ID || m.Seq != wm.Seq || m.SenderID != wm.SenderID ||
							m.SenderHandle != wm.SenderHandle || m.Text != wm.Text || m.ViaPartner != wm.ViaPartner || !m.CreatedAt.Equal(wm.CreatedAt) {
							t.Errorf("%s[%d] = %+v, want %+v", c.MessagesFile, i, m, wm)
						}
						if wantTxn := map[bool]string{true: wm.ClientTxnID}[wm.SenderID == w.Alice.ID]; m.ClientTxnID != wantTxn {
							t.Errorf("%s[%d]: client_txn_id %q, want %q (only alice's own)", c.MessagesFile, i, m.ClientTxnID, wantTxn)
						}
					}
				}
				slices.Sort(ids)
				if want := []int64{w.Direct.ID, w.Group.ID}; !slices.Equal(ids, want) {
					t.Errorf("conversations %v, want %v", ids, want)
				}
				last := w.Sent[w.Direct.ID][len(w.Sent[w.Direct.ID])-1]
				if last.ViaPartner != "Streamflix" {
					t.Fatalf("the world's last direct message is not via Streamflix: %+v", last)
				}
			})

			t.Run("grants", func(t *testing.T) {
				var got []struct {
					glasshouse.Grant
					ClientID  string                `json:"client_id"`
					Live      bool                  `json:"live"`
					Agreement *glasshouse.Agreement `json:"current_agreement"`
				}
				decode(t, files, "grants.json", &got)
				if len(got) != len(w.AliceGrants) {
					t.Fatalf("%d grants, want %d: %+v", len(got), len(w.AliceGrants), got)
				}
				for _, want := range w.AliceGrants {
					i := slices.IndexFunc(got, func(g struct {
						glasshouse.Grant
						ClientID  string                `json:"client_id"`
						Live      bool                  `json:"live"`
						Agreement *glasshouse.Agreement `json:"current_agreement"`
					}) bool {
						return g.PartnerID == want.PartnerID
					})
					if i < 0 {
						t.Errorf("no grant to partner %d (%s)", want.PartnerID, want.PartnerName)
						continue
					}
					g := got[i]
					if g.PartnerName != want.PartnerName || !slices.Equal(g.Scopes, want.Scopes) || g.AgreementVersion != 1 ||
						g.RelayEmail != want.RelayEmail || !g.RelayEnabled || !g.GrantedAt.Equal(want.GrantedAt) ||
						!g.ConfirmedAt.Equal(want.ConfirmedAt) || !g.ExpiresAt.Equal(want.ExpiresAt) || !g.Live ||
						g.ClientID != "client-"+strings.ToLower(want.PartnerName) || g.Agreement == nil || g.Agreement.Version != 1 {
						t.Errorf("grant %+v, want %+v, live, with client id and agreement", g, want)
					}
				}
			})

			t.Run("access", func(t *testing.T) {
				var got struct {
					Count      uint64
					MemberKey  []byte `json:"member_key"`
					Checkpoint *struct {
						File     string
						KeyFile  string `json:"key_file"`
						Origin   string
						Size     int64
						RootHash []byte `json:"root_hash"`
					}
					Missing []uint64
					Events  []struct {
						Counter          uint64
						EventID          string `json:"event_id"`
						PartnerID        int64  `json:"partner_id"`
						ClientID         string `json:"client_id"`
						PartnerName      string `json:"partner_name"`
						AgreementVersion int    `json:"agreement_version"`
						Endpoint         string
						Scopes           []string
						Decision         string
						Reason           string
						Items            int
						Time             time.Time
						Status           string
						LogIndex         *uint64 `json:"log_index"`
						Entry            []byte
						Proof            *[][]byte
					}
				}
				decode(t, files, "access.json", &got)
				recs := w.Access[w.Alice.ID]
				if got.Count != uint64(len(recs)) || got.Missing == nil || len(got.Missing) != 0 || len(got.Events) != len(recs) {
					t.Fatalf("count %d, missing %v, %d events; want %d, [] and %d", got.Count, got.Missing, len(got.Events), len(recs), len(recs))
				}
				// The checkpoint, checked with x/mod's note against the key in the zip.
				cp := tlogtest.Open(t, files["checkpoint.txt"], string(files["log-key.txt"]))
				size, root := cp.N, cp.Hash
				if c := got.Checkpoint; c == nil || c.File != "checkpoint.txt" || c.KeyFile != "log-key.txt" || c.Size != size || !bytes.Equal(c.RootHash, root[:]) {
					t.Errorf("checkpoint = %+v, want checkpoint.txt's size %d and root %x", c, size, root)
				}
				if string(files["log-key.txt"]) != w.Key.VerifierKey+"\n" {
					t.Errorf("log-key.txt = %q, want %q", files["log-key.txt"], w.Key.VerifierKey)
				}
				secret, err := w.Store.MemberSecret(t.Context(), w.Alice.ID)
				if err != nil {
					t.Fatal(err)
				}
				key, err := accesslog.DeriveMemberKey(w.Master, secret)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.MemberKey, key[:]) {
					t.Errorf("member_key %x, want alice's key %x", got.MemberKey, key)
				}
				for i, ev := range got.Events {
					rec := recs[i]
					decision := map[bool]string{true: "granted", false: "denied"}[rec.Granted]
					if ev.Counter != uint64(i+1) || ev.Counter != rec.Counter || ev.EventID != fmt.Sprintf("%x", rec.EventID) ||
						ev.PartnerID != rec.PartnerID || ev.ClientID != rec.ClientID || ev.AgreementVersion != 1 ||
						ev.PartnerName != map[string]string{w.Streamflix.ClientID: "Streamflix", w.Shopzon.ClientID: "Shopzon"}[rec.ClientID] ||
						ev.Endpoint != rec.Endpoint || !slices.Equal(ev.Scopes, rec.Scopes) || ev.Decision != decision ||
						ev.Reason != rec.Reason || ev.Items != rec.Items || !ev.Time.Equal(rec.At.Truncate(time.Minute)) {
						t.Errorf("event %d = %+v\nwant the record %+v", i, ev, rec)
					}
					if i == len(recs)-1 {
						if ev.Status != "pending" || ev.LogIndex != nil || ev.Entry != nil || ev.Proof != nil {
							t.Errorf("unfed event: status %q, index %v, entry %x, proof %v; want pending and nothing else", ev.Status, ev.LogIndex, ev.Entry, ev.Proof)
						}
						continue
					}
					if ev.Status != "included" || ev.LogIndex == nil || ev.Proof == nil || len(ev.Entry) < 49 {
						t.Fatalf("event %d: status %q, index %v, entry %x, proof %v; want included with all three", i, ev.Status, ev.LogIndex, ev.Entry, ev.Proof)
					}
					if !bytes.Equal(ev.Entry[1:17], rec.EventID[:]) {
						t.Errorf("event %d: entry %x does not carry event id %x", i, ev.Entry, rec.EventID)
					}
					if tag := key.Tag(ev.Counter); !bytes.Equal(ev.Entry[len(ev.Entry)-32:], tag[:]) {
						t.Errorf("event %d: the entry's tag is not alice's for counter %d", i, ev.Counter)
					}
					proof := make(tlog.RecordProof, len(*ev.Proof))
					for j, h := range *ev.Proof {
						copy(proof[j][:], h)
					}
					if err := tlog.CheckRecord(proof, size, root, int64(*ev.LogIndex), tlog.RecordHash(ev.Entry)); err != nil {
						t.Errorf("event %d: inclusion of entry %d in tree %d: %v", i, *ev.LogIndex, size, err)
					}
					if err := tlog.CheckRecord(proof, size, root, int64(*ev.LogIndex), tlog.RecordHash(append(slices.Clone(ev.Entry), 0))); err == nil {
						t.Errorf("event %d: the proof verifies another entry too", i)
					}
				}
			})

			t.Run("index", func(t *testing.T) {
				page := string(files["index.html"])
				for _, bad := range []string{"<script", "<link", "<img", "<iframe", " src=", "url(", "@import"} {
					if strings.Contains(strings.ToLower(page), bad) {
						t.Errorf("index.html contains %q: it must be self-contained, without scripts", bad)
					}
				}
				for _, msgs := range w.Sent {
					for _, m := range msgs {
						if m.Text != w.Script && !strings.Contains(page, htmlText(m.Text)) {
							t.Errorf("index.html lacks message %d %q", m.ID, m.Text)
						}
					}
				}
				for _, want := range []string{"via Streamflix", "Shopzon", "alice.shopzon@relay.example", "Film club", "Bob Friendly-Name",
					"GET /graph/v1/me/conversations/{id}/messages", w.Alice.Email, w.Alice.Phone} {
					if !strings.Contains(page, htmlText(want)) {
						t.Errorf("index.html lacks %q", want)
					}
				}
				// Times in the one style of the pages: "3 Dec 2026, 14:05 UTC".
				if !regexp.MustCompile(`exported [1-9][0-9]? [A-Z][a-z]{2} [0-9]{4}, [0-9]{2}:[0-9]{2} UTC`).MatchString(page) {
					t.Errorf("index.html does not write its time as 3 Dec 2026, 14:05 UTC")
				}
				if n, want := strings.Count(page, "<code>GET /graph/v1/me</code>"), len(w.Access[w.Alice.ID])-2; n != want {
					t.Errorf("index.html lists %d GET /graph/v1/me events, want %d", n, want)
				}
			})

			t.Run("nothing of others", func(t *testing.T) {
				forbidden := slices.Concat(w.OtherText, []string{
					w.Hidden.Text, w.BobTxn, w.BobRelay, messagesFile(w.Others),
					w.Carol.DisplayName, w.Dave.DisplayName, w.Eve.DisplayName,
				})
				for _, m := range []*glasshouse.Member{w.Bob, w.Carol, w.Dave, w.Eve} {
					forbidden = append(forbidden, m.Email, m.Phone)
					if m != w.Bob {
						forbidden = append(forbidden, m.PictureURL)
					}
				}
				for _, rec := range w.Access[w.Bob.ID] {
					forbidden = append(forbidden, fmt.Sprintf("%x", rec.EventID), base64.StdEncoding.EncodeToString(rec.EventID[:]))
				}
				for name, b := range files {
					for _, s := range forbidden {
						if bytes.Contains(b, []byte(s)) {
							t.Errorf("%s contains %q, which is not alice's", name, s)
						}
					}
				}
				// The control: bob's own export holds what alice's must not.
				bobs := MustExport(t, w.Exporter(), w.Bob)
				var all []byte
				for _, b := range bobs {
					all = append(all, b...)
				}
				for _, s := range []string{w.OtherText[0], w.BobRelay, w.Bob.Email, fmt.Sprintf("%x", w.Access[w.Bob.ID][0].EventID), messagesFile(w.Others)} {
					if !bytes.Contains(all, []byte(s)) {
						t.Errorf("bob's own export lacks %q", s)
					}
				}
			})
		})
	}
}

// htmlText is s as html/template writes it in text: with &, <, >, quotes
// and + as character references.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// TestWriteWithoutLog exports a member whose messages carry markup, from a
// store alone.
func TestWriteWithoutLog(t *testing.T) {
	t.Parallel()
	s := MustSQLite(t)
	alice, bob := MustMember(t, s, "alice", "Alice"), MustMember(t, s, "bobby", "Bob <b>bold</b>")
	storetest.MustFriends(t, s, alice, bob)
	c, _, err := s.CreateDirect(t.Context(), alice.ID, bob.Handle)
	if err != nil {
		t.Fatal(err)
	}
	const script = `<script>alert("owned")</script><img src=x onerror=alert(1)>`
	MustSend(t, s, bob, c, script, "")
	p := MustPartner(t, s, "Streamflix", glasshouse.ScopeMessagesSend)
	rec := &glasshouse.AccessRecord{EventID: [16]byte{1}, PartnerID: p.ID, ClientID: p.ClientID, MemberID: alice.ID,
		Endpoint: "GET /graph/v1/me", Scopes: []string{glasshouse.ScopeProfile}, Granted: false, Reason: "scope_not_granted", At: time.Now()}
	if err := s.RecordAccess(t.Context(), rec, func(uint64, []byte) ([]byte, error) { return []byte("entry"), nil }); err != nil {
		t.Fatal(err)
	}

	files := MustExport(t, export.New(export.Config{Store: s}), alice)
	for _, name := range []string{"checkpoint.txt", "log-key.txt"} {
		if _, ok := files[name]; ok {
			t.Errorf("an export without a log has %s", name)
		}
	}
	page := string(files["index.html"])
	for _, bad := range []string{"<script", "<img", "<b>"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("index.html contains %q unescaped", bad)
		}
	}
	if want := `&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`; !strings.Contains(page, want) {
		t.Errorf("index.html lacks the escaped message %s", want)
	}
	var msgs []*glasshouse.Message
	decode(t, files, messagesFile(c), &msgs)
	if len(msgs) != 1 || msgs[0].Text != script {
		t.Errorf("%s = %+v, want the message verbatim", messagesFile(c), msgs)
	}
	var access struct {
		Count      uint64
		Checkpoint *json.RawMessage
		Missing    []uint64
		Events     []map[string]any
	}
	decode(t, files, "access.json", &access)
	if access.Count != 1 || access.Checkpoint != nil || len(access.Events) != 1 || access.Events[0]["status"] != "pending" ||
		access.Events[0]["entry"] != nil || access.Events[0]["decision"] != "denied" {
		t.Errorf("access.json = %+v, want one pending denied event without entry or checkpoint", access)
	}
}

func TestWriteRefused(t *testing.T) {
	t.Parallel()
	w := MustWorld(t, MustSQLite)
	_, other, err := accesslog.NewKey("glasshouse.test/log", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		x        *export.Exporter
		memberID int64
		code     string
	}{
		{"unknown member", w.Exporter(), w.Eve.ID + 1000, glasshouse.ENOTFOUND},
		{"checkpoint under another key", export.New(export.Config{Store: w.Store, Log: w.Feeder.Log(), LogKey: other.VerifierKey}), w.Alice.ID, glasshouse.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tc.x.Write(t.Context(), tc.memberID, &buf)
			if glasshouse.ErrorCode(err) != tc.code {
				t.Errorf("Write = %v, want code %s", err, tc.code)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing; want none", buf.Len())
			}
		})
	}
}

// cancelingWriter cancels its context on the first write, like a client
// that goes away once the download has started.
type cancelingWriter struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelingWriter) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

func TestWriteFailsMidway(t *testing.T) {
	t.Parallel()
	w := MustWorld(t, MustSQLite)
	ctx, cancel := context.WithCancel(t.Context())
	out := &cancelingWriter{cancel: cancel}
	err := w.Exporter().Write(ctx, w.Alice.ID, out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
	if out.Len() == 0 {
		t.Fatal("nothing was written before the store failed: the test did not fail mid-way")
	}
	if _, err := unzip(out.Bytes()); err == nil {
		t.Errorf("the %d bytes written before the failure unzip as a complete archive", out.Len())
	}
}
