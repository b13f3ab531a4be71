package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// testKEK is the key-encryption key of these tests' stores.
var testKEK = bytes.Repeat([]byte{0x4b}, 32)

// The format of wrapped secrets and sealed bodies, written out again here
// with the standard GCM (nonce passed in) rather than the store's own
// code, so that the tests check the documented format, not just a round
// trip.

// gcm returns AES-256-GCM under key.
func gcm(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// openSealed opens version 1 || nonce || ciphertext with aead and ad.
func openSealed(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+aead.NonceSize() || sealed[0] != 1 {
		return nil, errors.New("not version 1")
	}
	n := 1 + aead.NonceSize()
	return aead.Open(nil, sealed[1:n], sealed[n:], ad)
}

// unwrapSecret unwraps a member_keys row with testKEK.
func unwrapSecret(t *testing.T, memberID int64, wrapped []byte) []byte {
	t.Helper()
	ad := binary.BigEndian.AppendUint64([]byte{1}, uint64(memberID))
	secret, err := openSealed(gcm(t, testKEK), wrapped, ad)
	if err != nil {
		t.Fatalf("unwrap member %d's secret with the KEK: %v", memberID, err)
	}
	return secret
}

// openBody opens a message body with the secret of its supposed sender.
func openBody(t *testing.T, secret []byte, conversationID, seq int64, body []byte) (string, error) {
	t.Helper()
	key, err := hkdf.Key(sha256.New, secret, nil, "glasshouse/message/v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	ad := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{1}, uint64(conversationID)), uint64(seq))
	text, err := openSealed(gcm(t, key), body, ad)
	return string(text), err
}

// rawMessage is a messages row as stored.
type rawMessage struct {
	id, conversationID, seq, senderID int64
	text                              string
	body                              []byte
}

func mustRawMessages(t *testing.T, s *sqlstore.Store) []rawMessage {
	t.Helper()
	rows, err := s.Query(t.Context(), `SELECT id, conversation_id, seq, sender_id, text, body FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rawMessage
	for rows.Next() {
		var m rawMessage
		if err := rows.Scan(&m.id, &m.conversationID, &m.seq, &m.senderID, &m.text, &m.body); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// mustWrappedSecrets returns every member_keys row, by member id.
func mustWrappedSecrets(t *testing.T, s *sqlstore.Store) map[int64][]byte {
	t.Helper()
	rows, err := s.Query(t.Context(), `SELECT member_id, wrapped FROM member_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var id int64
		var wrapped []byte
		if err := rows.Scan(&id, &wrapped); err != nil {
			t.Fatal(err)
		}
		out[id] = wrapped
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMessagesOnDisk checks the bytes the database holds: bodies sealed in
// the documented format under the sender's secret, no plain text in any
// column or, for SQLite, anywhere in the files; and after the sender's
// account is deleted, no key left in the database, even with the KEK, that
// opens their bodies, while the others' still open.
func TestMessagesOnDisk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		location := b.newDB(t)
		s := b.mustOpenAt(t, location, sqlstore.Config{KeyEncryptionKey: testKEK})
		alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
		direct := storetest.MustDirect(t, s, alice, bob)
		texts := map[int64]string{} // by message id
		for i := range 3 {
			for _, m := range []*glasshouse.Member{alice, bob} {
				msg := storetest.MustSend(t, s, direct, m, fmt.Sprintf("plaintext-marker %s #%d", m.Handle, i))
				texts[msg.ID] = msg.Text
			}
		}
		secrets := map[int64][]byte{}
		for id, wrapped := range mustWrappedSecrets(t, s) {
			secrets[id] = unwrapSecret(t, id, wrapped)
		}
		aliceSecret, err := s.MemberSecret(ctx, alice.ID)
		if err != nil || !bytes.Equal(aliceSecret, secrets[alice.ID]) {
			t.Fatalf("MemberSecret(alice) = %x, %v; the KEK unwraps %x", aliceSecret, err, secrets[alice.ID])
		}

		raw := mustRawMessages(t, s)
		if len(raw) != len(texts) {
			t.Fatalf("%d rows, want %d", len(raw), len(texts))
		}
		for _, m := range raw {
			if m.text != "" || bytes.Contains(m.body, []byte("plaintext-marker")) {
				t.Errorf("message %d stored with text %q and body %q: the text must only be sealed", m.id, m.text, m.body)
			}
			if got, err := openBody(t, secrets[m.senderID], m.conversationID, m.seq, m.body); err != nil || got != texts[m.id] {
				t.Errorf("message %d: the sender's secret opens it to %q, %v; want %q", m.id, got, err, texts[m.id])
			}
			other := secrets[alice.ID+bob.ID-m.senderID]
			if _, err := openBody(t, other, m.conversationID, m.seq, m.body); err == nil {
				t.Errorf("message %d opens with the other member's secret", m.id)
			}
		}
		if b.name == "sqlite" {
			wantNotInFiles(t, location, "plaintext-marker")
		}

		if err := s.DeleteMember(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		left := mustWrappedSecrets(t, s)
		if _, ok := left[alice.ID]; ok || len(left) != 1 {
			t.Fatalf("member_keys holds members %v after deleting alice (%d), want only bob (%d)", slices.Sorted(maps.Keys(left)), alice.ID, bob.ID)
		}
		for _, m := range mustRawMessages(t, s) {
			for id, wrapped := range left {
				got, err := openBody(t, unwrapSecret(t, id, wrapped), m.conversationID, m.seq, m.body)
				switch {
				case m.senderID == alice.ID && err == nil:
					t.Errorf("alice's message %d still opens, with member %d's secret, to %q", m.id, id, got)
				case m.senderID == bob.ID && (err != nil || got != texts[m.id]):
					t.Errorf("bob's message %d opens to %q, %v; want %q", m.id, got, err, texts[m.id])
				}
			}
		}
		page, err := s.Messages(ctx, glasshouse.MessageQuery{ConversationID: direct.ID, MemberID: bob.ID, Forward: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if want := m.SenderID == alice.ID; m.SenderDeleted != want || (m.Text == "") != want {
				t.Errorf("message %d from %d reads as %+v after alice's deletion", m.ID, m.SenderID, m)
			}
		}
	})
}

// wantNotInFiles checks that no file of the SQLite database at path (the
// database, its write-ahead log) contains s.
func wantNotInFiles(t *testing.T, path, s string) {
	t.Helper()
	files, err := filepath.Glob(path + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files at %s: %v", path, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains %q", filepath.Base(f), s)
		}
	}
}

// TestBodiesBoundToTheirRow swaps the bodies of two messages of one sender
// in the database: neither opens in the other's row, and reading fails
// rather than showing a message where it was not sent.
func TestBodiesBoundToTheirRow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
		direct := storetest.MustDirect(t, s, alice, bob)
		first, second := storetest.MustSend(t, s, direct, alice, "first"), storetest.MustSend(t, s, direct, alice, "second")
		err := s.Write(t.Context(), func(tx sqlstore.TestTx) error {
			return tx.Exec(`UPDATE messages SET body = (SELECT body FROM messages WHERE id = ?) WHERE id = ?`, first.ID, second.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: direct.ID, MemberID: bob.ID})
		if code := glasshouse.ErrorCode(err); code != glasshouse.EINTERNAL {
			t.Errorf("Messages with a body moved to another row: %v (code %q), want an internal error", err, code)
		}
	})
}

// TestDeleteMemberLeavesNoReference checks, for every column that refers to
// members, that no row names a deleted member any more, except those that
// must: the messages they sent and the conversations they created. Before
// the deletion, every such column names her, so that a table added later
// with a member column fails here until this test fills it and
// DeleteMember erases it.
func TestDeleteMemberLeavesNoReference(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t, sqlstore.Config{})
		alice := mustEverything(t, s)
		refs := mustMemberReferences(t, s, b)
		for _, ref := range refs {
			if n := mustCountRefs(t, s, ref, alice.ID); n == 0 {
				t.Errorf("%s.%s: no row names alice before her deletion: fill it in mustEverything", ref.table, ref.column)
			}
		}

		if err := s.DeleteMember(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		kept := []string{"messages.sender_id", "conversations.creator_id"}
		for _, ref := range refs {
			name := ref.table + "." + ref.column
			if n := mustCountRefs(t, s, ref, alice.ID); n != 0 && !slices.Contains(kept, name) {
				t.Errorf("%s: %d rows still name deleted alice", name, n)
			}
		}
		for _, table := range []string{"grant_scopes", "grant_conversations"} { // keyed by grant
			if n := mustCountRefs(t, s, memberReference{table, "member_id"}, alice.ID); n != 0 {
				t.Errorf("%s: %d rows still name deleted alice", table, n)
			}
		}
		var handle, email, name, hash string
		rows, err := s.Query(ctx, `SELECT handle, email, display_name, password_hash FROM members WHERE id = ?`, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&handle, &email, &name, &hash); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		if glasshouse.ValidateHandle(handle) == nil || strings.Contains(email, "alice") || strings.Contains(handle, "alice") || name != "" || hash != "" {
			t.Errorf("the tombstone is handle %q, email %q, name %q, hash %q: want no trace of alice, and a handle no one can sign up with",
				handle, email, name, hash)
		}
	})
}

// mustEverything creates alice with a row in every table that can name a
// member: friends, requests both ways, blocks both ways, a direct and a
// group conversation with messages, a message deleted for her, a session, a
// grant with a picked conversation, an authorization request, tokens, an
// access record and the operator role.
func mustEverything(t *testing.T, s *sqlstore.Store) *glasshouse.Member {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	alice, bob, carol := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob"), storetest.MustMember(t, s, "carol")
	dave, erin, frank, gina := storetest.MustMember(t, s, "dave"), storetest.MustMember(t, s, "erin"), storetest.MustMember(t, s, "frank"), storetest.MustMember(t, s, "gina")
	direct := storetest.MustDirect(t, s, alice, bob)
	storetest.MustDirect(t, s, alice, carol)
	storetest.MustSend(t, s, direct, alice, "hello")
	storetest.MustSend(t, s, direct, bob, "hi")
	if _, err := s.CreateGroup(ctx, alice.ID, glasshouse.NewGroup{Title: "g", Members: []string{"bob", "carol"}}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.RequestFriend(ctx, alice.ID, dave.Handle)
	must(err)
	_, err = s.RequestFriend(ctx, erin.ID, alice.Handle)
	must(err)
	must(s.Block(ctx, alice.ID, frank.Handle))
	must(s.Block(ctx, gina.ID, alice.Handle))
	must(s.DeleteForMe(ctx, alice.ID, direct.ID, 2))
	must(s.CreateSession(ctx, &glasshouse.Session{TokenHash: []byte("alice's token"), MemberID: alice.ID}))
	must(s.SetOperator(ctx, alice.ID, true))

	scopes := []string{glasshouse.ScopeProfile, glasshouse.ScopeMessagesRead}
	p, err := s.CreatePartner(ctx, glasshouse.NewPartner{Name: "streamflix", RedirectURIs: []string{"https://streamflix.example/cb"},
		Scopes: scopes, Purpose: "Reads what you pick.", RetentionDays: 30, ExpiresAt: now.Add(24 * time.Hour), SecurityAssessedAt: now.Add(-time.Hour)},
		"client-streamflix", []byte("secret hash"))
	must(err)
	_, err = s.ApproveAgreement(ctx, p.ClientID, now)
	must(err)
	_, err = s.SaveGrant(ctx, glasshouse.Grant{MemberID: alice.ID, PartnerID: p.ID, AgreementVersion: 1, Scopes: scopes,
		Conversations: []int64{direct.ID}, ConfirmedAt: now, ExpiresAt: now.Add(time.Hour)}, "relay-alice@relay.example")
	must(err)
	must(s.CreateAuthRequest(ctx, &glasshouse.AuthRequest{ID: "req", ClientID: p.ClientID}))
	must(s.CompleteAuthRequest(ctx, "req", alice.ID, now, scopes))
	tok := glasshouse.Token{ID: "at", Kind: glasshouse.AccessToken, FamilyID: "family", AuthRequestID: "req", PartnerID: p.ID,
		ClientID: p.ClientID, MemberID: alice.ID, Subject: "sub", Scopes: scopes, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(s.CreateTokens(ctx, &tok, nil, "", now))
	rec := &glasshouse.AccessRecord{EventID: [16]byte{1}, PartnerID: p.ID, ClientID: p.ClientID, MemberID: alice.ID, AgreementVersion: 1,
		Endpoint: "GET /graph/v1/me", Scopes: scopes[:1], Granted: true, Items: 1, At: now}
	must(s.RecordAccess(ctx, rec, func(uint64, []byte) ([]byte, error) { return []byte("entry"), nil }))
	return alice
}

// mustCountRefs counts the rows of ref's table that name memberID in its
// column.
func mustCountRefs(t *testing.T, s *sqlstore.Store, ref memberReference, memberID int64) int64 {
	t.Helper()
	// The names come from the database's own catalogue.
	rows, err := s.Query(t.Context(), fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s = ?`, ref.table, ref.column), memberID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// memberReference is a column with a foreign key to members (id).
type memberReference struct{ table, column string }

func mustMemberReferences(t *testing.T, s *sqlstore.Store, b backend) []memberReference {
	t.Helper()
	query := map[string]string{
		"sqlite": `SELECT m.name, f."from" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
			WHERE m.type = 'table' AND f."table" = 'members' ORDER BY 1, 2`,
		"postgres": `SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
			JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
			WHERE c.contype = 'f' AND c.confrelid = 'members'::regclass ORDER BY 1, 2`,
	}[b.name]
	rows, err := s.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var refs []memberReference
	for rows.Next() {
		var r memberReference
		if err := rows.Scan(&r.table, &r.column); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return refs
}

// TestMessagesFromBeforeSecrets opens a database made before member
// secrets, with messages stored in plain: they read as they are, their
// senders get a secret when first needed and seal what they send from then
// on, and deleting a sender blanks their old plain text.
func TestMessagesFromBeforeSecrets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		location := b.newDB(t)
		old, err := openWith(t, b, location, migrationsBefore(t, b, 4))
		if err != nil {
			t.Fatal(err)
		}
		err = old.Write(ctx, func(tx sqlstore.TestTx) error {
			for _, q := range []string{
				`INSERT INTO members (id, handle, email, vis_display_name, vis_email, vis_phone, vis_picture_url, password_hash, created_at)
					VALUES (1, 'alice', 'alice@example.org', 'me', 'me', 'me', 'me', 'hash', 1), (2, 'bob', 'bob@example.org', 'me', 'me', 'me', 'me', 'hash', 1)`,
				`INSERT INTO friendships (member_id, friend_id, created_at) VALUES (1, 2, 1), (2, 1, 1)`,
				`INSERT INTO conversations (id, kind, creator_id, direct_low, direct_high, member_count, last_seq, last_activity_at, created_at)
					VALUES (1, 'direct', 1, 1, 2, 2, 2, 1, 1)`,
				`INSERT INTO conversation_members (member_id, conversation_id, joined_at) VALUES (1, 1, 1), (2, 1, 1)`,
				`INSERT INTO messages (id, conversation_id, seq, sender_id, text, created_at)
					VALUES (1, 1, 1, 1, 'old words of alice', 1), (2, 1, 2, 2, 'old words of bob', 1)`,
				`UPDATE counters SET value = 2 WHERE name = 'message'`,
			} {
				if err := tx.Exec(q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		old.Close()

		s := b.mustOpenAt(t, location, sqlstore.Config{})
		alice, bob := &glasshouse.Member{ID: 1, Handle: "alice"}, &glasshouse.Member{ID: 2, Handle: "bob"}
		c := &glasshouse.Conversation{ID: 1}
		wantTexts := func(want ...string) {
			t.Helper()
			page, err := s.Messages(ctx, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: bob.ID, Forward: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range page.Messages {
				got = append(got, m.Text)
			}
			if !slices.Equal(got, want) {
				t.Errorf("texts %q, want %q", got, want)
			}
		}
		wantTexts("old words of alice", "old words of bob")
		secret, err := s.MemberSecret(ctx, alice.ID) // created now
		if err != nil || len(secret) != glasshouse.MemberSecretSize {
			t.Fatalf("MemberSecret(alice from before secrets) = %x, %v", secret, err)
		}
		if again, err := s.MemberSecret(ctx, alice.ID); err != nil || !bytes.Equal(again, secret) {
			t.Errorf("MemberSecret(alice) again = %x, %v; want %x", again, err, secret)
		}
		storetest.MustSend(t, s, c, alice, "new words of alice")
		storetest.MustSend(t, s, c, bob, "new words of bob") // bob's secret is created by the send
		wantTexts("old words of alice", "old words of bob", "new words of alice", "new words of bob")
		for _, m := range mustRawMessages(t, s)[2:] {
			if m.text != "" || m.body == nil {
				t.Errorf("new message %d stored with text %q and body %x: want it sealed", m.id, m.text, m.body)
			}
		}

		if err := s.DeleteMember(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		wantTexts("", "old words of bob", "", "new words of bob")
		for _, m := range mustRawMessages(t, s) {
			if m.senderID == alice.ID && (m.text != "" || bytes.Contains(m.body, []byte("alice"))) {
				t.Errorf("deleted alice's message %d is stored with text %q, body %q", m.id, m.text, m.body)
			}
		}
	})
}

// migrationsBefore returns b's migrations numbered below version.
func migrationsBefore(t *testing.T, b backend, version int) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(b.dialect.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var n int
		if _, err := fmt.Sscanf(path, "%04d_", &n); err != nil {
			return err
		}
		if n < version {
			data, err := fs.ReadFile(b.dialect.Migrations, path)
			if err != nil {
				return err
			}
			fsys[path] = &fstest.MapFile{Data: data}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// TestKeyEncryptionKey checks that a store refuses a KEK of the wrong size,
// and a KEK other than the one its secrets were wrapped with, whether the
// first was configured or kept by the store.
func TestKeyEncryptionKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		if _, err := b.openAt(ctx, b.newDB(t), sqlstore.Config{KeyEncryptionKey: make([]byte, 16)}); err == nil {
			t.Errorf("Open with a 16-byte KEK: no error")
		}

		configured := b.newDB(t)
		s := b.mustOpenAt(t, configured, sqlstore.Config{KeyEncryptionKey: testKEK})
		storetest.MustMember(t, s, "alice")
		s.Close()
		other := bytes.Repeat([]byte{1}, 32)
		if _, err := b.openAt(ctx, configured, sqlstore.Config{KeyEncryptionKey: other}); !errors.Is(err, sqlstore.ErrKEKMismatch) {
			t.Errorf("Open with another KEK: %v, want ErrKEKMismatch", err)
		}
		s = b.mustOpenAt(t, configured, sqlstore.Config{KeyEncryptionKey: testKEK})
		if _, err := s.MemberSecret(ctx, 1); err != nil {
			t.Errorf("MemberSecret after reopening with the same KEK: %v", err)
		}

		kept := b.newDB(t)
		s = b.mustOpenAt(t, kept, sqlstore.Config{})
		storetest.MustMember(t, s, "alice")
		s.Close()
		if _, err := b.openAt(ctx, kept, sqlstore.Config{KeyEncryptionKey: testKEK}); !errors.Is(err, sqlstore.ErrKEKMismatch) {
			t.Errorf("Open with a KEK on a database whose store kept its own: %v, want ErrKEKMismatch", err)
		}
	})
}

// TestDeleteMemberWhileSending deletes members of a group while the others
// send to it: every send either lands, readable, or is refused because its
// sender is gone, and what the deleted members sent reads as theirs.
func TestDeleteMemberWhileSending(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t, sqlstore.Config{})
		owner := storetest.MustMember(t, s, "owner")
		var senders []*glasshouse.Member
		for i := range 6 {
			m := storetest.MustMember(t, s, fmt.Sprintf("sender%d", i))
			req, err := s.RequestFriend(ctx, owner.ID, m.Handle)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AcceptFriendRequest(ctx, m.ID, req.ID); err != nil {
				t.Fatal(err)
			}
			senders = append(senders, m)
		}
		g, err := s.CreateGroup(ctx, owner.ID, glasshouse.NewGroup{Title: "g", Members: []string{"sender0", "sender1", "sender2", "sender3", "sender4", "sender5"}})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, len(senders))
		for _, m := range senders {
			go func() {
				for i := range 30 {
					_, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: g.ID, SenderID: m.ID, Text: fmt.Sprintf("%s %d", m.Handle, i)})
					if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
						break // deleted
					} else if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for _, m := range senders[:3] {
			if err := s.DeleteMember(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		for range senders {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		deleted := map[int64]bool{senders[0].ID: true, senders[1].ID: true, senders[2].ID: true}
		msgs, err := s.MessagesAfter(ctx, owner.ID, 0, glasshouse.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if deleted[m.SenderID] != m.SenderDeleted || (m.Text == "") != m.SenderDeleted {
				t.Errorf("message %d from %d reads as %+v", m.ID, m.SenderID, m)
			}
		}
	})
}

// BenchmarkMessageKeys measures the cryptography a message costs: sealing
// its body on send, opening it on read, and, once per member whose secret
// is not cached, unwrapping the secret and deriving its key.
func BenchmarkMessageKeys(b *testing.B) {
	const text = "a message of a realistic length, about sixty bytes or so."
	keys, err := sqlstore.NewTestKeys(1)
	if err != nil {
		b.Fatal(err)
	}
	body := keys.Seal(1, 1, text)
	b.Run("Seal", func(b *testing.B) {
		for b.Loop() {
			keys.Seal(1, 1, text)
		}
	})
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			if _, err := keys.Open(1, 1, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := keys.Unwrap(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
