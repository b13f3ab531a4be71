package transparency_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/ui/transparency"
)

func TestEmptyLog(t *testing.T) {
	s := MustSite(t)
	p := pagetest.New(t, s.URL, "").Get("/log").MustStatus(http.StatusOK)
	p.MustContain(`<dd id="log-size">0</dd>`, "the log is empty", "glasshouse audit verify "+s.URL+" --key "+html(s.Log.Key.VerifierKey))
	p.MustNotContain("<table")
}

func TestLogPage(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", "streamflix", glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	evil := s.MustPartner(t, `Evil<script>alert(1)</script>`, "evil", glasshouse.ScopeProfile)
	at := time.Date(2026, 12, 3, 14, 5, 42, 0, time.UTC)
	s.MustRecord(t, sf, at, "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
	s.MustRecord(t, evil, at.Add(time.Minute), "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	s.MustRecord(t, sf, at.Add(2*time.Minute), "GET /graph/v1/me/conversations/{id}/messages", false, glasshouse.ScopeMessagesRead)
	cp := s.Log.MustFeed(t)

	c := pagetest.New(t, s.URL, "")
	p := c.Get("/log").MustStatus(http.StatusOK)
	p.MustContain(
		`<dd id="log-size">5</dd>`,
		`<code id="log-root">`+html(base64.StdEncoding.EncodeToString(cp.Hash[:]))+`</code>`,
		`<code id="log-key">`+html(s.Log.Key.VerifierKey)+`</code>`,
		"<code>glasshouse.test/log</code>",
		`href="/log/checkpoint"`, `href="/log/key"`,
		"glasshouse audit verify "+s.URL+" --key "+html(s.Log.Key.VerifierKey),
		"glasshouse audit report "+s.URL+" --key "+html(s.Log.Key.VerifierKey),
		`data-copy="verify-command" hidden>Copy the command</button>`,
		"Evil&lt;script&gt;alert(1)&lt;/script&gt;",
	)
	p.MustNotContain("<script>alert(1)")
	// The newest first, each decoded: time, partner, request, scopes,
	// decision.
	rows := strings.Split(p.Body[strings.Index(p.Body, "<tbody>"):strings.Index(p.Body, "</tbody>")], "<tr>")[1:]
	if len(rows) != 5 {
		t.Fatalf("%d rows; want 5: 3 accesses, then the 2 approvals", len(rows))
	}
	for i, want := range [][]string{
		{`<td class="num">4</td>`, `<time datetime="2026-12-03T14:07:00Z" data-format="datetime">3 Dec 2026, 14:07 UTC</time>`,
			"Streamflix<br><code>streamflix</code>", `<code class="endpoint">GET /graph/v1/me/conversations/{id}/messages</code>`,
			"<code>messages.read</code>", `<span class="badge bad">denied</span>`, "scope_not_granted", `<td class="num">0</td>`},
		{`<td class="num">3</td>`, "3 Dec 2026, 14:06 UTC", "<code>evil</code>", "<code>profile</code>", `<span class="badge ok">granted</span>`},
		{`<td class="num">2</td>`, "3 Dec 2026, 14:05 UTC", `<code class="endpoint">GET /graph/v1/me/friends</code>`, "<code>friends</code>", "granted"},
		{`<td class="num">1</td>`, "<code>evil</code>", `agreement version 1 <a href="/partners#evil">(terms)</a>`, "<code>profile</code>", `<span class="badge">approved</span>`},
		{`<td class="num">0</td>`, "<code>streamflix</code>", "agreement version 1", "<code>friends</code>, <code>messages.send</code>", "approved"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("row %d lacks %q:\n%s", i, w, rows[i])
			}
		}
	}
	// No member appears: only tags, which the page does not even show.
	p.MustNotContain("alice")

	// The machines' routes are as they were: C2SP text, and JSON errors.
	resp, err := http.Get(s.URL + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(raw) != string(cp.Raw) {
		t.Errorf("/log/checkpoint: %s %q; want the signed note as text", resp.Header.Get("Content-Type"), raw)
	}
	if p := c.Get("/log/nothing"); p.Status != http.StatusNotFound || p.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/log/nothing: %d %s; want a JSON 404", p.Status, p.Header.Get("Content-Type"))
	}
	c.Get("/log/").MustRedirect("/log")
}

func TestLatestOnly(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", "streamflix", glasshouse.ScopeFriends)
	at := time.Now().Add(-time.Hour)
	n := transparency.Latest + 5
	for i := range n {
		s.MustRecord(t, sf, at.Add(time.Duration(i)*time.Minute), "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
	}
	s.Log.MustFeed(t)
	p := pagetest.New(t, s.URL, "").Get("/log").MustStatus(http.StatusOK)
	if got := strings.Count(p.Body, `<span class="badge ok">granted</span>`); got != transparency.Latest {
		t.Errorf("%d entries shown; want the latest %d", got, transparency.Latest)
	}
	p.MustContain(fmt.Sprintf(`<td class="num">%d</td>`, n-1)).MustNotContain(`<td class="num">4</td>`)
}

// html is s as html/template writes it in text.
func html(s string) string { return strings.ReplaceAll(s, "+", "&#43;") }

// TestPartnerDirectory: /partners lists every partner that ever had an
// approved agreement, with each version's terms and the log index of each
// change, and none that never had one.
func TestPartnerDirectory(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", "streamflix", glasshouse.ScopeMessagesSend, glasshouse.ScopeProfile)
	s.Site.MustPartner(t, glasshouse.NewPartner{Name: "Pending App", Scopes: []string{glasshouse.ScopeProfile},
		Purpose: "Never approved, never in the directory."}, "pending-app", []byte("secret hash"), false)
	s.MustRecord(t, sf, time.Now(), "GET /graph/v1/me", true, glasshouse.ScopeProfile)
	if _, err := s.Store.SetPartnerStatus(t.Context(), sf.ClientID, glasshouse.PartnerSuspended); err != nil {
		t.Fatal(err)
	}
	s.Log.MustFeed(t)

	p := pagetest.New(t, s.URL, "").Get("/partners").MustStatus(http.StatusOK)
	p.MustContain(`<section class="card" id="streamflix"`, "Streamflix", `data-status="suspended"`,
		`<strong data-usage="granted">1</strong>`, `data-scopes="profile messages.send"`, "Testing the log page.",
		`href="/api/v1/partners/streamflix/agreements/1/terms"`,
		`<tr data-action="approved">`, `<tr data-action="suspended">`,
		"glasshouse audit report "+s.URL+" --key "+html(s.Log.Key.VerifierKey))
	p.MustNotContain("pending-app", "Pending App", "pending</span>")
	// The log indexes shown are the entries': approval 0, the access 1,
	// the suspension 2.
	for _, want := range []string{`approved</td>`, `suspended</td>`} {
		p.MustContain(want)
	}
	rows := strings.Split(p.Body[strings.Index(p.Body, "<tbody>"):strings.Index(p.Body, "</tbody>")], "<tr")[1:]
	if len(rows) != 2 || !strings.Contains(rows[0], `<td class="num">0</td>`) || !strings.Contains(rows[1], `<td class="num">2</td>`) {
		t.Errorf("the changes' rows %q; want the approval at log index 0 and the suspension at 2", rows)
	}
}
