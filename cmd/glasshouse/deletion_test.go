package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// TestDeleteAccount deletes an account on a running server and shows what
// GDPR Art. 17 asks of it here: the member's message bodies are not on disk
// in the clear and no longer decrypt, their log entries stay in the log,
// which still verifies, but nothing the operator keeps can link them to the
// member any more.
func TestDeleteAccount(t *testing.T) {
	m := MustRunMain(t)
	ctx := context.Background()
	w := newTestWorld(t, m.URL())
	annTok, bobTok := w.member("ann"), w.member("bob")
	w.befriend(annTok, bobTok, "bob")
	var direct glasshouse.Conversation
	w.do(annTok, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "bob"}, &direct)
	const secretText = "the surprise party is on the 14th"
	w.send(annTok, direct.ID, secretText, "a1")
	w.send(bobTok, direct.ID, "noted", "b1")

	// A partner reads for both; the real recorder logs it.
	p, err := m.Store.CreatePartner(ctx, glasshouse.NewPartner{Name: "Streamflix", RedirectURIs: []string{"https://streamflix.example/cb"},
		Scopes: []string{glasshouse.ScopeProfile}, Purpose: "Shows your name on your profile.", ExpiresAt: time.Now().Add(24 * time.Hour)},
		"streamflix", []byte("hash"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store.ApproveAgreement(ctx, p.ClientID, time.Now()); err != nil {
		t.Fatal(err)
	}
	ann, bob := mustMemberID(t, m, "ann"), mustMemberID(t, m, "bob")
	for _, id := range []int64{ann, bob, ann, bob, ann} {
		rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: id, AgreementVersion: 1,
			Endpoint: "GET /graph/v1/me", Scopes: []string{glasshouse.ScopeProfile}, Granted: true, Items: 1, At: time.Now()}
		if _, err := m.Recorder.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	waitForLog(t, m, 6) // the approval, then the five accesses
	var before struct {
		Count     uint64 `json:"count"`
		MemberKey []byte `json:"member_key"`
	}
	w.do(annTok, "GET", "/api/v1/me/access", nil, &before)
	if before.Count != 3 {
		t.Fatalf("ann's access count %d, want 3", before.Count)
	}
	annTags := map[accesslog.Tag]bool{}
	annKey := accesslog.MemberKey(before.MemberKey)
	for c := uint64(1); c <= 3; c++ {
		annTags[annKey.Tag(c)] = true
	}

	if err := m.Store.DeleteMember(ctx, ann); err != nil {
		t.Fatal(err)
	}

	// Her message is gone for bob too: no text, marked as from a deleted
	// account, and not on disk in the clear.
	var page glasshouse.MessagePage
	w.do(bobTok, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages", direct.ID), nil, &page)
	if len(page.Messages) != 2 || !page.Messages[1].SenderDeleted || page.Messages[1].Text != "" || page.Messages[0].Text != "noted" {
		t.Fatalf("bob's view after ann left: %+v", page.Messages)
	}
	for _, name := range []string{"glasshouse.db", "glasshouse.db-wal"} {
		b, err := os.ReadFile(filepath.Join(m.Config.Data, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secretText)) {
			t.Errorf("%s holds ann's message in the clear", name)
		}
	}

	// The server can no longer compute her key, and keeps no record that
	// names her.
	if _, err := m.Recorder.MemberKey(ctx, ann); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
		t.Errorf("MemberKey after deletion: %v, want not found", err)
	}
	if recs, err := m.Store.MemberAccess(ctx, ann, 0, 0); err != nil || len(recs) != 0 {
		t.Errorf("access records of the deleted member: %d, %v", len(recs), err)
	}

	// The log still verifies, with all six entries: an auditor sees no
	// change at all.
	out, err := runCLI(t, "audit", "report", m.URL(), "--state", filepath.Join(t.TempDir(), "state.json"), "--json")
	if err != nil {
		t.Fatalf("audit after deletion: %v\n%s", err, out)
	}
	var rep struct{ Size uint64 }
	json.Unmarshal([]byte(out), &rep)
	if rep.Size != 6 {
		t.Errorf("log size %d after deletion, want 6", rep.Size)
	}

	// No key the operator can still derive makes one of her tags: not the
	// remaining member's, not one from her id (the old derivation).
	bobSecret, err := m.Store.MemberSecret(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	master, err := m.Store.Secret(ctx, "accesslog-master", nil)
	if err != nil {
		t.Fatal(err)
	}
	idAsSecret := make([]byte, 32)
	idAsSecret[31] = byte(ann)
	for name, secret := range map[string][]byte{"bob's": bobSecret, "one made from her id": idAsSecret} {
		k, err := accesslog.DeriveMemberKey(master, secret)
		if err != nil {
			t.Fatal(err)
		}
		for c := uint64(1); c <= 3; c++ {
			if annTags[k.Tag(c)] {
				t.Errorf("%s key makes ann's tag %d", name, c)
			}
		}
	}
	// Only the key she was given, and kept, still finds her entries.
	out, err = runCLI(t, "audit", "trail", m.URL(), "--member-key", base64.StdEncoding.EncodeToString(before.MemberKey),
		"--count", "3", "--state", filepath.Join(t.TempDir(), "trail.json"), "--json")
	if err != nil {
		t.Fatalf("audit trail with ann's own key: %v\n%s", err, out)
	}
}
