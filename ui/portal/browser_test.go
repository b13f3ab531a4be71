package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/browsertest"
	"github.com/glasshouse/glasshouse/signin"
)

// TestBrowserPortal signs a partner in to /developers in a real browser,
// and has an operator approve a pending agreement in /admin, with a
// screenshot of each page.
func TestBrowserPortal(t *testing.T) {
	s := MustSite(t)
	b := browsertest.New(t)
	sf := s.MustPartner(t, "Streamflix", true, glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend)
	searchly := s.MustPartner(t, "Searchly", false, glasshouse.ScopeProfile, glasshouse.ScopeFriends)
	inboxer := s.MustPartner(t, "Inboxer", false, glasshouse.ScopeMessagesRead) // no security assessment
	alice := s.MustMember(t, "alice", false).me
	now := s.Clock.Now()
	var logged []glasshouse.LogPosition // the older accesses are in the log already
	for i := range 12 {
		at := now.Add(-time.Duration(i*i) * 3 * time.Hour)
		rec := s.mustAccess(t, sf, alice, at, "POST /graph/v1/me/messages", "", glasshouse.ScopeMessagesSend)
		if i > 2 {
			logged = append(logged, glasshouse.LogPosition{EventID: rec.EventID, Index: uint64(100 + len(logged))})
		}
		if i%3 == 0 {
			s.mustAccess(t, sf, alice, at.Add(time.Minute), "GET /graph/v1/me", "", glasshouse.ScopeProfile)
		}
		if i%4 == 1 {
			s.mustAccess(t, sf, alice, at.Add(2*time.Minute), "GET /graph/v1/me/conversations/{id}/messages", "scope_not_granted", glasshouse.ScopeMessagesRead)
		}
	}

	if err := s.Store.MarkIntegrated(context.Background(), logged); err != nil {
		t.Fatal(err)
	}

	t.Run("partner", func(t *testing.T) {
		tab := b.NewContext(t)
		browsertest.Do(t, tab,
			chromedp.Navigate(s.URL+"/developers"),
			chromedp.WaitVisible(chromedp.CSS("#f-client_id")),
		)
		browsertest.Screenshot(t, tab, "developers")
		// A wrong secret: the message shows next to the field.
		browsertest.Do(t, tab,
			chromedp.SendKeys(chromedp.CSS("#f-client_id"), sf.ClientID),
			chromedp.SendKeys(chromedp.CSS("#f-client_secret"), "not the secret"),
			chromedp.Click(chromedp.CSS(`form[action="/developers/signin"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#e-client_secret")),
		)
		if got := browsertest.Run(t, tab, chromedp.Text(chromedp.CSS("#e-client_secret"))); got != "Unknown client id or wrong secret." {
			t.Errorf("error next to the secret: %q", got)
		}
		browsertest.Screenshot(t, tab, "signin-refused")
		// The client id is kept; the secret is typed again.
		browsertest.Do(t, tab,
			chromedp.SendKeys(chromedp.CSS("#f-client_secret"), sf.Secret),
			chromedp.Click(chromedp.CSS(`form[action="/developers/signin"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".portal-head h1")),
		)
		text := browsertest.Run(t, tab, chromedp.Text(chromedp.CSS("main")))
		for _, want := range []string{"Streamflix", "approved", "Approved scopes", "messages.send", "Latest receipts", "scope_not_granted"} {
			if !strings.Contains(text, want) {
				t.Errorf("dashboard lacks %q", want)
			}
		}
		if loc := browsertest.Run(t, tab, chromedp.Location()); !strings.HasSuffix(loc, "/developers/dashboard") {
			t.Errorf("after sign-in, at %s", loc)
		}
		browsertest.Screenshot(t, tab, "dashboard")
		browsertest.Do(t, tab, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".portal-head h1")))
		browsertest.Screenshot(t, tab, "dashboard-phone")
		browsertest.Do(t, tab, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.URL+"/developers"), chromedp.WaitVisible(chromedp.ID("signin-h")))
		browsertest.Screenshot(t, tab, "developers-signed-in")
	})

	t.Run("operator", func(t *testing.T) {
		olga := s.MustMember(t, "olga", true)
		tab := b.NewContext(t)
		// The member session of olga, as /signin would set it.
		token := olga.Cookie("/", signin.CookieName).Value
		if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{Name: signin.CookieName, Value: token, URL: s.URL + "/", Path: "/"}); err != nil {
			t.Fatal(err)
		}
		approve := func(p *testPartner) chromedp.CSS {
			return chromedp.CSS(`form[action="/admin/partners/` + p.ClientID + `/approve"] button`)
		}
		browsertest.Do(t, tab,
			chromedp.Navigate(s.URL+"/admin"),
			chromedp.WaitVisible(approve(searchly)),
		)
		browsertest.Screenshot(t, tab, "admin")
		// messages.read without a security assessment: refused, and told
		// next to the button.
		refusal := chromedp.CSS(`[id="err-approve-` + inboxer.ClientID + `"]`)
		browsertest.Do(t, tab,
			chromedp.Click(approve(inboxer)),
			chromedp.WaitVisible(refusal),
		)
		if got := browsertest.Run(t, tab, chromedp.Text(refusal)); !strings.Contains(got, "needs a security assessment") {
			t.Errorf("next to Inboxer's approve button: %q", got)
		}
		browsertest.Screenshot(t, tab, "admin-refused")
		browsertest.Do(t, tab,
			chromedp.Click(approve(searchly)),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
		)
		if got := browsertest.Run(t, tab, chromedp.Text(chromedp.CSS(".flash"))); !strings.HasPrefix(got, "Agreement approved.") {
			t.Errorf("after approving: %q", got)
		}
		browsertest.Screenshot(t, tab, "admin-approved")
		p, err := s.Store.PartnerByClientID(context.Background(), searchly.ClientID)
		if err != nil || p.Status != glasshouse.PartnerApproved {
			t.Errorf("Searchly after approval: %+v, %v", p, err)
		}
		if a, err := s.Store.CurrentAgreement(context.Background(), searchly.ID); err != nil || a.Version != 1 {
			t.Errorf("Searchly's current agreement: %+v, %v", a, err)
		}

		// The operator's and partners' pages are as wide as the rest.
		widths := map[string]float64{}
		for _, path := range []string{"/admin", "/developers", "/docs/partners.md", "/docs/", "/no-such-page"} {
			browsertest.Do(t, tab, chromedp.Navigate(s.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
			widths[path] = browsertest.Run(t, tab, chromedp.Evaluate[float64](`document.querySelector("main").getBoundingClientRect().width`))
			browsertest.Screenshot(t, tab, path)
		}
		for path, w := range widths {
			if w != widths["/no-such-page"] {
				t.Errorf("main is %vpx wide on %s; want %vpx as on every page: %v", w, path, widths["/no-such-page"], widths)
				break
			}
		}
	})
}
