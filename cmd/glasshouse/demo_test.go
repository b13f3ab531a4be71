package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
)

// consentOf is how a member answers the platform's login and consent
// pages: signing in as handle, ticking the given scopes (all offered if
// nil), the relay address and the conversations.
func consentOf(handle, password string, ticked []string, conversations ...int64) oauthtest.Consent {
	c := oauthtest.Consent{Handle: handle, Password: password, Scopes: ticked, Fields: url.Values{"email": {"relay"}}}
	for _, id := range conversations {
		c.Fields.Add("conversation", fmt.Sprint(id))
	}
	return c
}

var friendOptionRE = regexp.MustCompile(`<option value="([^"]+)">([^<]*)</option>`)

// TestDemoWorld runs `glasshouse demo` for real and follows the README in a
// browser-like client: alice connects Streamflix through the consent
// screen and shares a film with bob, who already uses it; his conversation
// then holds the message, marked as sent via Streamflix; the verified log
// shows the one refused read and no other refusal.
func TestDemoWorld(t *testing.T) {
	m := NewMain()
	m.Config.Addr, m.Config.Data, m.Config.LogLevel, m.Config.Demo = "127.0.0.1:0", t.TempDir(), "warn", true
	var out bytes.Buffer
	m.Stdout = &out
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if !strings.Contains(out.String(), "alice-demo-password") || !strings.Contains(out.String(), "/demo/") {
		t.Fatalf("demo printed:\n%s", out.String())
	}
	// The partners' credentials for /developers are printed, with the file
	// that keeps them.
	var saved demoPartners
	if b, err := os.ReadFile(filepath.Join(m.Config.Data, demoPartnersFile)); err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("read %s: %v", demoPartnersFile, err)
	}
	for _, c := range saved.Apps {
		if !strings.Contains(out.String(), c.ClientID+" ") || !strings.Contains(out.String(), c.ClientSecret) {
			t.Errorf("demo did not print %s's credentials:\n%s", c.ClientID, out.String())
		}
	}
	if !strings.Contains(out.String(), "/developers") || !strings.Contains(out.String(), demoPartnersFile) {
		t.Errorf("demo does not say where partners sign in, or where the credentials are:\n%s", out.String())
	}
	if ok, err := m.Store.IsOperator(context.Background(), mustMemberID(t, m, "alice")); err != nil || !ok {
		t.Errorf("alice is not the demo's operator: %v, %v", ok, err)
	}

	// The README's walkthrough: alice connects Streamflix and shares a film
	// with a friend. bob and carol already use Streamflix (the demo seeds
	// their grants), so both are there to pick, by name.
	alice, bob := oauthtest.NewBrowser(t, m.URL(), ""), oauthtest.NewBrowser(t, m.URL(), "")
	page := alice.ConnectDemo("streamflix", consentOf("alice", "alice-demo-password", nil)).Body
	opts := friendOptionRE.FindAllStringSubmatch(page, -1)
	names := map[string]string{}
	for _, o := range opts {
		names[o[2]] = o[1]
	}
	if len(opts) != 2 || names["Bob Okafor"] == "" || names["Carol Nguyen"] == "" {
		t.Fatalf("friends to share with: %q, want bob and carol by name", opts)
	}
	page = alice.Post("/demo/streamflix/share", url.Values{"film": {"Metropolis"}, "to": {names["Bob Okafor"]}}).MustStatus(http.StatusOK).Body
	if !strings.Contains(page, "Shared Metropolis") || !strings.Contains(page, "tried to read that conversation") || strings.Contains(page, "insufficient_scope") {
		t.Fatalf("share (and the refused read after it, in words) failed:\n%s", page)
	}

	// bob's own client sees the message in his conversation with alice.
	w := newTestWorld(t, m.URL())
	var s struct{ Token string }
	w.do("", "POST", "/api/v1/sessions", map[string]string{"handle": "bob", "password": "bob-demo-password"}, &s)
	var direct glasshouse.Conversation
	w.do(s.Token, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "alice"}, &direct)
	var p glasshouse.MessagePage
	w.do(s.Token, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", direct.ID), nil, &p)
	if len(p.Messages) != 1 || !strings.Contains(p.Messages[0].Text, "Metropolis") || p.Messages[0].ViaPartner != "Streamflix" || p.Messages[0].SenderHandle != "alice" {
		t.Fatalf("bob's latest message from alice: %+v", p.Messages)
	}

	// alice connects again without sharing her profile: Streamflix shows
	// neither her name nor her friends' names.
	page = alice.ConnectDemo("streamflix", consentOf("alice", "alice-demo-password", []string{"friends", "messages.send"})).Body
	if strings.Contains(page, "Alice Martin") || strings.Contains(page, "Bob Okafor") {
		t.Errorf("Streamflix shows names although alice unticked profile:\n%s", page)
	}

	// The question of the seed story: did Streamflix ever read anyone's
	// messages? The verified log answers: it sent, it tried to read once,
	// and the read was refused. No other refusal counts as messages.read.
	waitForLog(t, m, 1)
	var rep struct {
		Counts []struct {
			Partner, Scope, Decision string
			N                        uint64
		}
	}
	var sends, reads, refused, otherDenials uint64
	for deadline := time.Now().Add(10 * time.Second); refused == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := runCLI(t, "audit", "report", m.URL(), "--partner", "streamflix", "--json", "--state", filepath.Join(t.TempDir(), "s.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(out), &rep)
		sends, reads, refused, otherDenials = 0, 0, 0, 0
		for _, c := range rep.Counts {
			switch {
			case c.Scope == "messages.send" && c.Decision == "granted":
				sends += c.N
			case c.Scope == "messages.read" && c.Decision == "granted":
				reads += c.N
			case c.Scope == "messages.read" && c.Decision == "denied":
				refused += c.N
			case c.Decision == "denied":
				otherDenials += c.N
			}
		}
	}
	if sends != 1 || reads != 0 || refused != 1 || otherDenials != 0 {
		t.Fatalf("audit report --partner streamflix: messages.send granted %d, messages.read granted %d, denied %d, other denials %d (%+v)",
			sends, reads, refused, otherDenials, rep.Counts)
	}

	// Searchly sees only friends who connected Searchly: none yet.
	page = alice.ConnectDemo("searchly", consentOf("alice", "alice-demo-password", nil)).Body
	if !strings.Contains(page, "None of your friends uses Searchly yet") {
		t.Errorf("Searchly page:\n%s", page)
	}
	// Shopzon gets the relay address, never the real one.
	page = bob.ConnectDemo("shopzon", consentOf("bob", "bob-demo-password", nil)).Body
	if strings.Contains(page, "bob@example.org") || !strings.Contains(page, "@relay.") {
		t.Errorf("Shopzon page should show a relay address only:\n%s", page)
	}
}

// TestDemoSeedIdempotent seeds twice on the same store: nothing doubles.
func TestDemoSeedIdempotent(t *testing.T) {
	m := MustRunMain(t)
	for range 2 {
		if err := seedDemo(context.Background(), m.Store, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	alice, err := m.Store.MemberByHandle(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := m.Store.Conversations(context.Background(), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("alice has %d conversations after seeding twice, want 2", len(cs))
	}
	for _, c := range cs {
		if c.LastSeq != 3 {
			t.Errorf("conversation %q has %d messages after seeding twice, want 3", c.Title, c.LastSeq)
		}
	}
}
