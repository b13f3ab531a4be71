package privacy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
)

func TestSignedOut(t *testing.T) {
	s := MustSite(t)
	for _, tc := range []struct{ method, path, next string }{
		{"GET", "/privacy", "/privacy"},
		{"GET", fmt.Sprintf("/privacy/apps/%d", s.Streamflix.ID), fmt.Sprintf("/privacy/apps/%d", s.Streamflix.ID)},
		{"GET", "/privacy/delete", "/privacy/delete"},
		{"POST", "/privacy/export", "/messages"},
		{"POST", "/privacy/delete", "/messages"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			visitor := s.Visitor(t)
			var p *pagetest.Page
			if tc.method == "GET" {
				p = visitor.Get(tc.path)
			} else {
				p = visitor.PostRaw(tc.path, url.Values{"csrf": {"x"}})
			}
			p.MustStatus(http.StatusSeeOther)
			if loc := p.Header.Get("Location"); !strings.HasPrefix(loc, "/signin?next=") || !strings.Contains(loc, strings.ReplaceAll(tc.next, "/", "%2F")) {
				t.Errorf("redirect to %q; want the sign-in page coming back to %s", loc, tc.next)
			}
		})
	}
}

func TestOverview(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice"), s.MustMember(t, "bobby")
	evil := s.MustPartner(t, `Evil<script>alert(1)</script>`, `Wants <img src=x onerror=alert(2)> everything.`, glasshouse.ScopeProfile)
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	s.MustGrant(t, alice, s.Shopzon, glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	s.MustGrant(t, alice, evil, glasshouse.ScopeProfile)
	s.MustGrant(t, bob, s.Shopzon, glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	last := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	s.MustRecord(t, alice, s.Streamflix, last.Add(-time.Hour), "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend)
	s.MustRecord(t, alice, s.Streamflix, last, "GET /graph/v1/me/conversations/{id}/messages", false, glasshouse.ScopeMessagesRead)
	s.MustRecord(t, bob, s.Shopzon, last, "GET /graph/v1/me", true, glasshouse.ScopeProfile)

	t.Run("alice", func(t *testing.T) {
		p := alice.T(t).Get("/privacy").MustStatus(http.StatusOK)
		p.MustContain(
			"<h3 id=\"app-"+fmt.Sprint(s.Streamflix.ID)+"-h\">Streamflix</h3>",
			"Lets members share what they watch with a friend.", // purpose
			"agreement version 1",
			"<code>friends</code>", "<code>messages.send</code>", "<code>profile</code>", "<code>email</code>",
			glasshouse.ScopeDescriptions[glasshouse.ScopeMessagesSend],
			fmt.Sprintf("alice.%d@relay.glasshouse.test", s.Shopzon.ID), "Cut off the relay address",
			`datetime="2026-03-01T12:34:56Z"`, "1 Mar 2026, 12:34 UTC", "(denied); 2 in all, 1 denied.",
			"None yet.", // Shopzon has not called for alice
			"Consent until",
			`action="/privacy/export"`, `href="/privacy/delete"`,
			`<a href="/log">public transparency log</a>`, // the log's page, not its raw checkpoint
		)
		// Disconnecting asks first: the form is inside a closed <details>
		// whose summary only opens it.
		sf := fmt.Sprintf(`<details class="confirm-disconnect">
<summary class="button danger">Disconnect Streamflix…</summary>
<div class="confirm-box">`)
		i := strings.Index(p.Body, sf)
		j := strings.Index(p.Body, fmt.Sprintf(`action="/privacy/apps/%d/revoke"`, s.Streamflix.ID))
		if i < 0 || j < i || strings.Contains(p.Body[i:j], "</details>") || !strings.Contains(p.Body[j:], "Yes, disconnect Streamflix</button>") {
			t.Error("the Disconnect form of Streamflix is not behind a confirmation")
		}
		if n := strings.Count(p.Body, `name="csrf"`); n < 8 {
			t.Errorf("%d forms carry a CSRF token; want every form to", n)
		}
		if strings.Count(p.Body, "<form") != strings.Count(p.Body, `name="csrf"`) {
			t.Errorf("%d forms but %d CSRF fields", strings.Count(p.Body, "<form"), strings.Count(p.Body, `name="csrf"`))
		}
	})
	t.Run("escaping", func(t *testing.T) {
		p := alice.T(t).Get("/privacy").MustStatus(http.StatusOK)
		p.MustContain("Evil&lt;script&gt;alert(1)&lt;/script&gt;", "Wants &lt;img src=x onerror=alert(2)&gt; everything.")
		p.MustNotContain("<script>alert(1)", "<img src=x", "style=")
		if h := p.Header.Get("Content-Security-Policy"); !strings.Contains(h, "script-src 'self'") || strings.Contains(h, "unsafe-inline") {
			t.Errorf("CSP %q", h)
		}
	})
	t.Run("bob sees only his own", func(t *testing.T) {
		p := bob.T(t).Get("/privacy").MustStatus(http.StatusOK)
		p.MustContain("Shopzon", "1 in all, 0 denied.", fmt.Sprintf("bobby.%d@relay.glasshouse.test", s.Shopzon.ID))
		p.MustNotContain("Streamflix", "Evil", "alice")
	})
	t.Run("relay only where it is used", func(t *testing.T) {
		// Streamflix has no email scope: no relay controls for it.
		p := alice.T(t).Get("/privacy").MustStatus(http.StatusOK)
		p.MustNotContain(fmt.Sprintf("alice.%d@relay.glasshouse.test", s.Streamflix.ID))
		dave := s.MustMember(t, "dave")
		now := time.Now()
		if _, err := s.Store.SaveGrant(context.Background(), glasshouse.Grant{MemberID: dave.ID, PartnerID: s.Shopzon.ID, AgreementVersion: 1,
			Scopes: []string{glasshouse.ScopeEmail}, RealEmail: true, ConfirmedAt: now, ExpiresAt: now.Add(time.Hour)}, "dave@relay.glasshouse.test"); err != nil {
			t.Fatal(err)
		}
		dave.Get("/privacy").MustStatus(http.StatusOK).
			MustContain("You chose to give Shopzon your real email address").MustNotContain("dave@relay.glasshouse.test")
	})
	t.Run("trail", func(t *testing.T) {
		// The key and count that `glasshouse audit trail` needs, and the
		// command itself, filled in.
		k, err := s.Log.Recorder.MemberKey(context.Background(), alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		// html/template writes + as &#43;, which reads and copies as +.
		key := strings.ReplaceAll(base64.StdEncoding.EncodeToString(k[:]), "+", "&#43;")
		alice.T(t).Get("/privacy").MustStatus(http.StatusOK).MustContain(
			`<code id="member-key">`+key+`</code>`,
			`<dd id="access-count">2</dd>`,
			`<pre id="trail-command" aria-labelledby="trail-command-h"><code>glasshouse audit trail `+s.URL+` --member-key `+key+` --count 2</code></pre>`,
			`data-copy="trail-command" hidden>Copy the command</button>`,
			`<script src="/assets/js/copy.js?v=`,
		)
		kb, err := s.Log.Recorder.MemberKey(context.Background(), bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		bob.T(t).Get("/privacy").MustStatus(http.StatusOK).
			MustContain(strings.ReplaceAll(base64.StdEncoding.EncodeToString(kb[:]), "+", "&#43;"), `<dd id="access-count">1</dd>`).MustNotContain(key)
	})
	t.Run("nothing connected", func(t *testing.T) {
		carol := s.MustMember(t, "carol")
		carol.Get("/privacy").MustStatus(http.StatusOK).MustContain("You have not connected any app.").
			MustNotContain("Disconnected apps")
	})
}

func TestAppHistory(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice"), s.MustMember(t, "bobby")
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeMessagesSend)
	now := time.Now()
	old := s.MustRecord(t, alice, s.Streamflix, now.Add(-40*24*time.Hour), "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
	denied := s.MustRecord(t, alice, s.Streamflix, now.Add(-48*time.Hour), "GET /graph/v1/me/conversations/{id}/messages", false, glasshouse.ScopeMessagesRead)
	s.MustRecord(t, bob, s.Shopzon, now, "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	sent := s.MustRecord(t, alice, s.Streamflix, now.Add(-time.Hour), "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend)
	s.Log.MustFeed(t)
	pending := s.MustRecord(t, alice, s.Streamflix, now, "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend)
	path := fmt.Sprintf("/privacy/apps/%d", s.Streamflix.ID)

	p := alice.Get(path).MustStatus(http.StatusOK)
	t.Run("table", func(t *testing.T) {
		// Newest first, each row with what the browser compares with the
		// log entry.
		var order []string
		for _, m := range regexp.MustCompile(`data-event="([0-9a-f]{32})"`).FindAllStringSubmatch(p.Body, -1) {
			order = append(order, m[1])
		}
		want := []string{fmt.Sprintf("%x", pending.EventID), fmt.Sprintf("%x", sent.EventID), fmt.Sprintf("%x", denied.EventID), fmt.Sprintf("%x", old.EventID)}
		if !slices.Equal(order, want) {
			t.Errorf("rows %v; want %v (alice's Streamflix events, newest first)", order, want)
		}
		index, integrated, err := s.Store.EventLogIndex(context.Background(), denied.EventID)
		if err != nil || !integrated {
			t.Fatalf("denied event: index %d, integrated %v, %v", index, integrated, err)
		}
		p.MustContain(
			fmt.Sprintf(`data-event="%x" data-counter="%d" data-index="%d"`, denied.EventID, denied.Counter, index),
			fmt.Sprintf(`data-time="%d" data-client="client-streamflix" data-endpoint="GET /graph/v1/me/conversations/{id}/messages" data-scopes="messages.read"`, denied.At.Truncate(time.Minute).Unix()),
			`data-decision="denied" data-reason="scope_not_granted" data-items="0"`,
			fmt.Sprintf("data-event=\"%x\" data-counter=\"%d\"\n data-time=", pending.EventID, pending.Counter), // no index yet
			"not yet", "<span class=\"reason\">scope_not_granted</span>",
			"4 requests on record, 1 denied.",
			"<script src=\"/assets/js/verify.js?v=",
			`id="verify-status" class="verify-status" role="status" aria-live="polite"`,
		)
		p.MustNotContain("style=", "GET /graph/v1/me\"") // no inline style; bob's Shopzon event absent
	})
	t.Run("chart", func(t *testing.T) {
		p.MustContain(`role="img" aria-labelledby="chart-title chart-desc"`, `<title id="chart-title">Accesses per day by scope`,
			`<desc id="chart-desc">3 accesses in the last 30 days, 1 denied. By scope: messages.send 2, messages.read 1.`,
			`class="bar s-messages-send"`, `class="bar s-messages-read"`)
		p.MustNotContain(`class="bar s-friends"`) // 40 days ago: outside the chart
	})
	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			who  *member
			path string
			want int
		}{
			{"another member's app", bob, path, http.StatusNotFound},
			{"unknown partner", alice, "/privacy/apps/987654", http.StatusNotFound},
			{"not a number", alice, "/privacy/apps/streamflix", http.StatusNotFound},
			{"negative", alice, "/privacy/apps/-1", http.StatusNotFound},
			{"bad page", alice, path + "?before=soon", http.StatusBadRequest},
			{"page zero", alice, path + "?before=0", http.StatusBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.who.T(t).Get(tc.path).MustStatus(tc.want)
				p.MustNotContain("data-event=", "Streamflix: access history")
			})
		}
	})
	t.Run("no request yet", func(t *testing.T) {
		carol := s.MustMember(t, "carol")
		s.MustGrant(t, carol, s.Shopzon, glasshouse.ScopeProfile)
		carol.Get(fmt.Sprintf("/privacy/apps/%d", s.Shopzon.ID)).MustStatus(http.StatusOK).
			MustContain("Shopzon: access history", "No request on record.", "<desc id=\"chart-desc\">No accesses in the last 30 days.</desc>").
			MustNotContain("verify-status", "data-event=", `class="bar`)
	})
	t.Run("after disconnecting", func(t *testing.T) {
		if err := s.Store.RevokeGrant(context.Background(), alice.ID, s.Streamflix.ID); err != nil {
			t.Fatal(err)
		}
		alice.T(t).Get(path).MustStatus(http.StatusOK).MustContain("Disconnected", fmt.Sprintf(`data-event="%x"`, denied.EventID))
		alice.T(t).Get("/privacy").MustStatus(http.StatusOK).MustContain("Disconnected apps",
			fmt.Sprintf(`<li id="app-%d"><a href="/privacy/apps/%d">Streamflix</a>`, s.Streamflix.ID, s.Streamflix.ID), "4 in all, 1 denied")
	})
}

func TestAppHistoryPages(t *testing.T) {
	s := MustSite(t)
	alice := s.MustMember(t, "alice")
	s.MustGrant(t, alice, s.Shopzon, glasshouse.ScopeProfile)
	const n = 105
	start := time.Now().Add(-n * time.Minute)
	for i := range n {
		s.MustRecord(t, alice, s.Shopzon, start.Add(time.Duration(i)*time.Minute), "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	}
	path := fmt.Sprintf("/privacy/apps/%d", s.Shopzon.ID)
	counters := func(p *pagetest.Page) []string {
		var out []string
		for _, m := range regexp.MustCompile(`data-counter="(\d+)"`).FindAllStringSubmatch(p.Body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	first := alice.Get(path).MustStatus(http.StatusOK)
	if c := counters(first); len(c) != 100 || c[0] != "105" || c[99] != "6" {
		t.Fatalf("first page: %d rows from %v to %v; want 100 from 105 to 6", len(c), c[0], c[len(c)-1])
	}
	first.MustContain(`<a href="` + path + `?before=6">Older requests</a>`).MustNotContain("Newer requests")
	second := alice.Get(path + "?before=6").MustStatus(http.StatusOK)
	if c := counters(second); !slices.Equal(c, []string{"5", "4", "3", "2", "1"}) {
		t.Fatalf("second page: %v; want 5 to 1", c)
	}
	second.MustContain(`<a href="` + path + `">Newer requests</a>`).MustNotContain("Older requests")
}

// state is what the forms may change for a member: their grants and
// whether each token is live.
func (s *site) state(tb testing.TB, m *member, tokens ...string) string {
	tb.Helper()
	grants, err := s.Store.Grants(context.Background(), m.ID)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(grants)
	out := string(b)
	for _, id := range tokens {
		out += fmt.Sprintf(" %s=%v", id, s.TokenLive(tb, id))
	}
	return out
}

func TestChanges(t *testing.T) {
	s := MustSite(t)
	type fixture struct {
		m                         *member
		friends, send, both, shop string // token ids
	}
	n := 0
	setup := func(t *testing.T) fixture {
		n++
		m := s.MustMember(t, fmt.Sprintf("member%d", n))
		s.MustGrant(t, m, s.Streamflix, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
		s.MustGrant(t, m, s.Shopzon, glasshouse.ScopeProfile, glasshouse.ScopeEmail)
		id := func(name string) string { return fmt.Sprintf("%s-%d", name, n) }
		return fixture{m: m,
			friends: s.MustToken(t, m, s.Streamflix, id("friends"), glasshouse.ScopeOpenID, glasshouse.ScopeFriends),
			send:    s.MustToken(t, m, s.Streamflix, id("send"), glasshouse.ScopeOpenID, glasshouse.ScopeMessagesSend),
			both:    s.MustToken(t, m, s.Streamflix, id("both"), glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend),
			shop:    s.MustToken(t, m, s.Shopzon, id("shop"), glasshouse.ScopeProfile),
		}
	}
	app := func(p *glasshouse.Partner, action string) string {
		return fmt.Sprintf("/privacy/apps/%d/%s", p.ID, action)
	}

	t.Run("withdraw a scope", func(t *testing.T) {
		f := setup(t)
		p := f.m.Post(app(s.Streamflix, "revoke-scope"), url.Values{"scope": {glasshouse.ScopeFriends}}).MustStatus(http.StatusSeeOther)
		if loc, want := p.Header.Get("Location"), fmt.Sprintf("/privacy?done=scope#app-%d", s.Streamflix.ID); loc != want {
			t.Errorf("redirect to %q; want %q", loc, want)
		}
		g, err := s.Store.Grant(context.Background(), f.m.ID, s.Streamflix.ID)
		if err != nil || !slices.Equal(g.Scopes, []string{glasshouse.ScopeMessagesSend}) {
			t.Fatalf("grant after withdrawing friends: %+v, %v", g, err)
		}
		// Its tokens die at once; others live.
		for id, live := range map[string]bool{f.friends: false, f.both: false, f.send: true, f.shop: true} {
			if s.TokenLive(t, id) != live {
				t.Errorf("token %s live = %v; want %v", id, !live, live)
			}
		}
		f.m.Get("/privacy?done=scope").MustContain(`<p class="flash" role="status">The scope is withdrawn.`)
	})
	t.Run("disconnect", func(t *testing.T) {
		f := setup(t)
		s.MustRecord(t, f.m, s.Streamflix, time.Now(), "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
		f.m.Post(app(s.Streamflix, "revoke"), nil).MustStatus(http.StatusSeeOther)
		if _, err := s.Store.Grant(context.Background(), f.m.ID, s.Streamflix.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Fatalf("grant after disconnecting: %v; want ENOTFOUND", err)
		}
		for id, live := range map[string]bool{f.friends: false, f.both: false, f.send: false, f.shop: true} {
			if s.TokenLive(t, id) != live {
				t.Errorf("token %s live = %v; want %v", id, !live, live)
			}
		}
		f.m.Get("/privacy?done=revoked").MustContain("The app is disconnected.", "Disconnected apps")
	})
	t.Run("relay off and on", func(t *testing.T) {
		f := setup(t)
		for _, tc := range []struct {
			value string
			want  bool
		}{{"off", false}, {"on", true}} {
			f.m.Post(app(s.Shopzon, "relay"), url.Values{"relay": {tc.value}}).MustStatus(http.StatusSeeOther)
			g, err := s.Store.Grant(context.Background(), f.m.ID, s.Shopzon.ID)
			if err != nil || g.RelayEnabled != tc.want {
				t.Fatalf("relay=%s: grant %+v, %v", tc.value, g, err)
			}
			if !tc.want {
				f.m.Get("/privacy").MustContain("It is cut off:", "Turn the relay address back on")
			}
		}
	})

	t.Run("confirm again", func(t *testing.T) {
		f := setup(t)
		ctx := context.Background()
		g, err := s.Store.Grant(ctx, f.m.ID, s.Streamflix.ID)
		if err != nil {
			t.Fatal(err)
		}
		g.ConfirmedAt, g.ExpiresAt = time.Now().Add(-80*24*time.Hour), time.Now().Add(10*24*time.Hour)
		if _, err := s.Store.SaveGrant(ctx, *g, g.RelayEmail); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		f.m.Post(app(s.Streamflix, "reconfirm"), nil).MustStatus(http.StatusSeeOther)
		g, err = s.Store.Grant(ctx, f.m.ID, s.Streamflix.ID)
		if err != nil || g.ExpiresAt.Before(before.Add(glasshouse.GrantLifetime-time.Second)) || !slices.Equal(g.Scopes, []string{"friends", "messages.send"}) {
			t.Fatalf("grant after confirming again: %+v, %v; want it to run %v from now with the same scopes", g, err, glasshouse.GrantLifetime)
		}
		for _, id := range []string{f.friends, f.send, f.both, f.shop} {
			if !s.TokenLive(t, id) {
				t.Errorf("token %s died when the consent was confirmed again", id)
			}
		}
	})

	// Refused: nothing changes.
	other := s.MustMember(t, "outsider")
	for _, tc := range []struct {
		name   string
		who    func(f fixture) *member
		path   string
		form   func(csrf string) map[string]string
		status int
		want   string // on the page
	}{
		{"unknown scope", nil, app(s.Streamflix, "revoke-scope"), func(c string) map[string]string { return map[string]string{"csrf": c, "scope": "inbox"} },
			http.StatusBadRequest, `<p class="field-error" role="alert">Pick one of the scopes listed for this app.</p>`},
		{"no scope", nil, app(s.Streamflix, "revoke-scope"), func(c string) map[string]string { return map[string]string{"csrf": c} },
			http.StatusBadRequest, "Pick one of the scopes listed for this app."},
		{"scope not granted", nil, app(s.Streamflix, "revoke-scope"), func(c string) map[string]string { return map[string]string{"csrf": c, "scope": "phone"} },
			http.StatusNotFound, "This app does not have the scope"},
		{"bad relay value", nil, app(s.Shopzon, "relay"), func(c string) map[string]string { return map[string]string{"csrf": c, "relay": "maybe"} },
			http.StatusBadRequest, "Choose whether to turn the relay address off or on."},
		{"no csrf", nil, app(s.Streamflix, "revoke"), func(string) map[string]string { return nil },
			http.StatusForbidden, "This form has expired or came from another site."},
		{"forged csrf", nil, app(s.Streamflix, "revoke-scope"), func(string) map[string]string { return map[string]string{"csrf": "forged", "scope": "friends"} },
			http.StatusForbidden, "This form has expired or came from another site."},
		{"another member revokes", func(fixture) *member { return other }, app(s.Streamflix, "revoke"),
			func(c string) map[string]string { return map[string]string{"csrf": c} }, http.StatusNotFound, "You have not connected this app."},
		{"another member withdraws a scope", func(fixture) *member { return other }, app(s.Streamflix, "revoke-scope"),
			func(c string) map[string]string { return map[string]string{"csrf": c, "scope": "friends"} }, http.StatusNotFound, "You have not connected this app."},
		{"another member cuts the relay", func(fixture) *member { return other }, app(s.Shopzon, "relay"),
			func(c string) map[string]string { return map[string]string{"csrf": c, "relay": "off"} }, http.StatusNotFound, "You have not connected this app."},
		{"another member confirms again", func(fixture) *member { return other }, app(s.Streamflix, "reconfirm"),
			func(c string) map[string]string { return map[string]string{"csrf": c} }, http.StatusNotFound, "You have not connected this app."},
		{"unknown app", nil, "/privacy/apps/987654/revoke", func(c string) map[string]string { return map[string]string{"csrf": c} },
			http.StatusNotFound, "You have not connected this app."},
		{"malformed app", nil, "/privacy/apps/x/revoke", func(c string) map[string]string { return map[string]string{"csrf": c} },
			http.StatusNotFound, "No such app."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			who := f.m
			if tc.who != nil {
				who = tc.who(f).T(t)
			}
			before := s.state(t, f.m, f.friends, f.send, f.both, f.shop)
			form := url.Values{}
			for k, v := range tc.form(who.CSRF) {
				form.Set(k, v)
			}
			who.PostRaw(tc.path, form).MustStatus(tc.status).MustContain(tc.want)
			if after := s.state(t, f.m, f.friends, f.send, f.both, f.shop); after != before {
				t.Errorf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

func TestExport(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice"), s.MustMember(t, "bobby")
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeMessagesSend)
	s.MustGrant(t, bob, s.Shopzon, glasshouse.ScopeProfile)
	mine := s.MustRecord(t, alice, s.Streamflix, time.Now(), "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend)
	theirs := s.MustRecord(t, bob, s.Shopzon, time.Now(), "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	s.Log.MustFeed(t)

	t.Run("download", func(t *testing.T) {
		day := time.Now().UTC().Format("2006-01-02")
		p := alice.T(t).Post("/privacy/export", nil).MustStatus(http.StatusOK)
		if ct := p.Header.Get("Content-Type"); ct != "application/zip" {
			t.Errorf("Content-Type %q", ct)
		}
		after := time.Now().UTC().Format("2006-01-02") // in case midnight passed
		if cd := p.Header.Get("Content-Disposition"); cd != `attachment; filename=glasshouse-alice-`+day+`.zip` && cd != `attachment; filename=glasshouse-alice-`+after+`.zip` {
			t.Errorf("Content-Disposition %q; want an attachment named glasshouse-alice-%s.zip", cd, day)
		}
		z, err := zip.NewReader(bytes.NewReader([]byte(p.Body)), int64(len(p.Body)))
		if err != nil {
			t.Fatalf("not a zip: %v", err)
		}
		files := map[string]string{}
		for _, f := range z.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			files[f.Name] = string(b)
		}
		// The product's export (package export tests it in depth): here,
		// that it is alice's and only hers.
		if !strings.Contains(files["profile.json"], `"handle": "alice"`) || !strings.Contains(files["grants.json"], `"partner_name": "Streamflix"`) ||
			!strings.Contains(files["access.json"], fmt.Sprintf("%x", mine.EventID)) || files["checkpoint.txt"] == "" {
			t.Errorf("zip holds %v; want alice's profile, grants, access events and the checkpoint", files)
		}
		var all string
		for _, f := range files {
			all += f
		}
		if strings.Contains(all, "bobby") || strings.Contains(files["grants.json"], "Shopzon") || strings.Contains(all, fmt.Sprintf("%x", theirs.EventID)) {
			t.Errorf("alice's zip holds bob's data: %v", files)
		}
	})
	t.Run("no csrf", func(t *testing.T) {
		p := alice.T(t).PostRaw("/privacy/export", url.Values{"csrf": {"forged"}}).MustStatus(http.StatusForbidden)
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || p.Header.Get("Content-Disposition") != "" {
			t.Errorf("refused export answered %q, %q", ct, p.Header.Get("Content-Disposition"))
		}
	})
	t.Run("limited", func(t *testing.T) {
		// Each export reads a whole history: three at once, then one
		// every 20 minutes, per member.
		for i := range 3 {
			if p := bob.T(t).Post("/privacy/export", nil); p.Status != http.StatusOK {
				t.Fatalf("export %d: status %d", i+1, p.Status)
			}
		}
		bob.T(t).Post("/privacy/export", nil).MustStatus(http.StatusTooManyRequests).MustContain("try again in a few minutes")
	})
	t.Run("fails before the first byte", func(t *testing.T) {
		s.FailExport(0)
		p := alice.T(t).Post("/privacy/export", nil).MustStatus(http.StatusInternalServerError)
		p.MustContain("Internal error.").MustNotContain("connection dropped")
	})
	t.Run("fails midway", func(t *testing.T) {
		s.FailExport(1000)
		// Raw, as pagetest fails the test on a body it cannot read.
		browser := &http.Client{Jar: alice.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := browser.PostForm(s.URL+"/privacy/export", url.Values{"csrf": {alice.CSRF}})
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("a broken export arrived as a complete download")
		}
	})
}

func TestDeleteAccount(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice"), s.MustMember(t, "bobby")
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeMessagesSend)
	token := s.MustToken(t, alice, s.Streamflix, "alice-token", glasshouse.ScopeMessagesSend)

	alice.Get("/privacy/delete").MustStatus(http.StatusOK).MustContain(
		"Your account <strong>@alice</strong> is deleted", "That key is destroyed", "nobody, us\nincluded, can link them to you",
		`<label for="f-handle">Type your handle, alice, to confirm</label>`, `<label for="f-password">Your password</label>`,
		`autocomplete="current-password"`, `action="/privacy/export"`)

	for _, tc := range []struct {
		name         string
		form         map[string]string // csrf added unless "csrf" is set
		status       int
		field, error string
	}{
		{"wrong handle", map[string]string{"handle": "bobby", "password": sitetest.Password}, http.StatusBadRequest, "handle", "Type your handle, alice, to confirm."},
		{"no handle", map[string]string{"password": sitetest.Password}, http.StatusBadRequest, "handle", "Type your handle, alice, to confirm."},
		{"markup in handle", map[string]string{"handle": `<script>x</script>`, "password": sitetest.Password}, http.StatusBadRequest, "handle", "Type your handle, alice, to confirm."},
		{"no password", map[string]string{"handle": "alice"}, http.StatusBadRequest, "password", "Enter your password."},
		{"wrong password", map[string]string{"handle": "alice", "password": "not the password"}, http.StatusBadRequest, "password", "That is not your password."},
		{"forged csrf", map[string]string{"csrf": "forged", "handle": "alice", "password": sitetest.Password}, http.StatusForbidden, "", "This form has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"csrf": {alice.CSRF}}
			for k, v := range tc.form {
				form.Set(k, v)
			}
			p := alice.T(t).PostRaw("/privacy/delete", form).MustStatus(tc.status)
			if tc.field != "" {
				p.MustContain(fmt.Sprintf(`aria-invalid="true" aria-describedby="e-%s"`, tc.field),
					fmt.Sprintf(`<span class="field-error" id="e-%s">%s</span>`, tc.field, tc.error))
			} else {
				p.MustContain(tc.error)
			}
			p.MustNotContain("<script>x", sitetest.Password, "Goodbye")
			if len(s.Deleted()) != 0 {
				t.Fatalf("deleted %v after a refused confirmation", s.Deleted())
			}
			alice.T(t).Get("/privacy").MustStatus(http.StatusOK) // still signed in
		})
	}

	t.Run("delete", func(t *testing.T) {
		form := url.Values{"handle": {"@Alice"}, "password": {sitetest.Password}}
		p := alice.T(t).Post("/privacy/delete", form).MustStatus(http.StatusOK)
		p.MustContain("Goodbye, @alice", "Your account is deleted and you are signed out.").MustNotContain("Sign out @alice")
		if got := s.Deleted(); !slices.Equal(got, []int64{alice.ID}) {
			t.Fatalf("deleted %v; want alice %d only", got, alice.ID)
		}
		ctx := context.Background()
		if _, err := s.Store.MemberByID(ctx, alice.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Errorf("alice after deletion: %v; want ENOTFOUND", err)
		}
		if tok, err := s.Store.Token(ctx, token); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND && (err != nil || tok.RevokedAt.IsZero()) {
			t.Errorf("alice's app token after deletion: %+v, %v; want it gone or revoked", tok, err)
		}
		var cleared bool
		for _, c := range (&http.Response{Header: p.Header}).Cookies() {
			cleared = cleared || c.Name == "glasshouse_session" && c.MaxAge < 0
		}
		if !cleared {
			t.Errorf("the session cookie is not cleared: %v", p.Header["Set-Cookie"])
		}
		// The old session is gone too, even for a client that keeps it.
		keeper := s.Visitor(t)
		keeper.SetCookie(&http.Cookie{Name: "glasshouse_session", Value: alice.Token, Path: "/"})
		if p := keeper.Get("/privacy"); p.Status != http.StatusSeeOther {
			t.Errorf("the deleted member's session still opens /privacy: %d", p.Status)
		}
		bob.T(t).Get("/privacy").MustStatus(http.StatusOK) // bob is untouched
	})
}

func TestDeleteAccountPasswordLimit(t *testing.T) {
	s := MustSite(t)
	alice := s.MustMember(t, "alice")
	for i := range 10 {
		alice.Post("/privacy/delete", url.Values{"handle": {"alice"}, "password": {fmt.Sprintf("wrong password %d", i)}}).
			MustStatus(http.StatusBadRequest)
	}
	// The limit holds even for the right password.
	alice.Post("/privacy/delete", url.Values{"handle": {"alice"}, "password": {sitetest.Password}}).
		MustStatus(http.StatusTooManyRequests).MustContain("Too many wrong passwords for this account")
	if len(s.Deleted()) != 0 {
		t.Fatal("deleted past the limit")
	}
}
