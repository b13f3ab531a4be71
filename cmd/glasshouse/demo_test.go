package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// browser is a person's browser: cookies, redirects, forms. It talks HTML
// to the demo apps and the consent pages, as a person would.
type browser struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newBrowser(tb testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, base: base, c: &http.Client{Jar: jar}}
}

// do sends a request and returns the final URL and body after redirects
// (or, where CheckRedirect stopped following, the redirect's target).
func (b *browser) do(method, path string, form url.Values) (*url.URL, string) {
	b.tb.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.base + path
	}
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = b.c.Get(u)
	} else {
		resp, err = b.c.PostForm(u, form)
	}
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if loc, err := resp.Location(); err == nil && resp.StatusCode/100 == 3 {
		return loc, "" // a redirect that CheckRedirect stopped at
	}
	if resp.StatusCode != http.StatusOK {
		b.tb.Fatalf("%s %s: %s\n%s", method, path, resp.Status, body)
	}
	return resp.Request.URL, string(body)
}

var (
	csrfRE    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	actionRE  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	scopeRE   = regexp.MustCompile(`name="scope" value="([^"]+)"`)
	preTicked = regexp.MustCompile(`name="scope" value="[^"]+" checked`)
)

// submit posts the page's first form with the given fields and its CSRF token.
func (b *browser) submit(at *url.URL, page string, fields url.Values) (*url.URL, string) {
	b.tb.Helper()
	csrf, action := csrfRE.FindStringSubmatch(page), actionRE.FindStringSubmatch(page)
	if csrf == nil || action == nil {
		b.tb.Fatalf("no form with a CSRF token on %s:\n%s", at, page)
	}
	target, err := at.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.tb.Fatal(err)
	}
	fields.Set("csrf", html.UnescapeString(csrf[1]))
	return b.do("POST", target.String(), fields)
}

// connect has a member connect a demo app: the app's button, the platform's
// login and consent pages (ticking only the scopes given, all if nil), and
// back to the app.
func (b *browser) connect(app, handle, password string, ticked []string) string {
	b.tb.Helper()
	b.do("GET", "/demo/"+app+"/", nil)
	at, page := b.do("POST", "/demo/"+app+"/connect", url.Values{})
	at, page = b.consent(at, page, handle, password, ticked, nil)
	if at.Path != "/demo/"+app+"/" || !strings.Contains(page, "Connected to glasshouse") {
		b.tb.Fatalf("after consent: %s\n%s", at, page)
	}
	return page
}

// consent answers the platform's login page (if shown) and consent page:
// it ticks the given scopes (all offered if nil) and conversations.
func (b *browser) consent(at *url.URL, page, handle, password string, ticked []string, conversations []int64) (*url.URL, string) {
	b.tb.Helper()
	if strings.Contains(page, `name="password"`) {
		at, page = b.submit(at, page, url.Values{"handle": {handle}, "password": {password}})
	}
	offered := scopeRE.FindAllStringSubmatch(page, -1)
	if len(offered) == 0 {
		b.tb.Fatalf("no consent form at %s:\n%s", at, page)
	}
	// Consent is given, never presumed: no scope comes pre-ticked.
	if preTicked.MatchString(page) {
		b.tb.Fatalf("the consent page pre-ticks a scope:\n%s", page)
	}
	form := url.Values{"action": {"allow"}, "email": {"relay"}}
	for _, s := range offered {
		if ticked == nil || slices.Contains(ticked, s[1]) {
			form.Add("scope", s[1])
		}
	}
	for _, c := range conversations {
		form.Add("conversation", fmt.Sprint(c))
	}
	return b.submit(at, page, form)
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
	alice, bob := newBrowser(t, m.URL()), newBrowser(t, m.URL())
	page := alice.connect("streamflix", "alice", "alice-demo-password", nil)
	opts := friendOptionRE.FindAllStringSubmatch(page, -1)
	names := map[string]string{}
	for _, o := range opts {
		names[o[2]] = o[1]
	}
	if len(opts) != 2 || names["Bob Okafor"] == "" || names["Carol Nguyen"] == "" {
		t.Fatalf("friends to share with: %q, want bob and carol by name", opts)
	}
	_, page = alice.do("POST", "/demo/streamflix/share", url.Values{"film": {"Metropolis"}, "to": {names["Bob Okafor"]}})
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
	page = alice.connect("streamflix", "alice", "alice-demo-password", []string{"friends", "messages.send"})
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
	page = alice.connect("searchly", "alice", "alice-demo-password", nil)
	if !strings.Contains(page, "None of your friends uses Searchly yet") {
		t.Errorf("Searchly page:\n%s", page)
	}
	// Shopzon gets the relay address, never the real one.
	page = bob.connect("shopzon", "bob", "bob-demo-password", nil)
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
