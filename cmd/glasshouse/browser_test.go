package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse/internal/browsertest"
)

// TestBrowserProduct drives the whole product in a real browser, the way
// two people meet it: they sign up and befriend each other, chat with live
// delivery, connect Streamflix through the consent screen (one of them with
// a scope unticked), share a film that arrives in the friend's chat with
// Streamflix's badge, find that access in the privacy center marked
// verified by the browser itself, disconnect Streamflix there, and see its
// next call refused.
func TestBrowserProduct(t *testing.T) {
	b := browsertest.New(t)
	m := NewMain()
	m.Config.Addr, m.Config.Data, m.Config.LogLevel, m.Config.Demo = "127.0.0.1:0", t.TempDir(), "warn", true
	m.Stdout = io.Discard
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	base := m.URL()
	ann, ben := b.NewContext(t), b.NewContext(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	waitFor := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
	}
	const password = "correct horse battery"

	// Both sign up.
	for _, who := range []struct {
		tab          context.Context
		handle, name string
	}{{ann, "ann", "Ann Lee"}, {ben, "ben", "Ben Ode"}} {
		browsertest.Do(t, who.tab,
			chromedp.Navigate(base+"/signup"),
			chromedp.SendKeys(css("#f-handle"), who.handle),
			chromedp.SendKeys(css("#f-display_name"), who.name),
			chromedp.SendKeys(css("#f-email"), who.handle+"@example.org"),
			chromedp.SendKeys(css("#f-new_password"), password),
			chromedp.Click(css(`main form button[type=submit]`)),
			chromedp.WaitVisible(css("#find-h")),
		)
	}
	browsertest.Screenshot(t, ann, "friends")

	// Ann asks Ben to be friends; Ben accepts and writes first.
	browsertest.Do(t, ann,
		chromedp.SendKeys(css("#f-handle"), "ben"),
		chromedp.Click(css(`form[action="/friends"] button`)),
		chromedp.WaitVisible(css(`button[aria-label="Cancel the request to @ben"]`)),
	)
	browsertest.Do(t, ben,
		chromedp.Navigate(base+"/friends"),
		chromedp.Click(css(`button[aria-label="Accept @ann"]`)),
		chromedp.Click(css(`button[aria-label="Message @ann"]`)),
		chromedp.WaitVisible(css("#compose")),
		chromedp.SendKeys(css("#f-text"), "Film night on Friday?"),
		chromedp.Click(css("#compose button")),
		waitFor(`document.querySelector("#messages .msg.mine .text")?.textContent === "Film night on Friday?"`),
	)

	// Ann opens the chat; Ben's answer to her arrives there without a reload.
	browsertest.Do(t, ann,
		chromedp.Navigate(base+"/messages"),
		chromedp.Click(css("#conversations a")),
		chromedp.WaitVisible(css("#compose")),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
		chromedp.SendKeys(css("#f-text"), "Yes! I'll find something.\n"),
	)
	browsertest.Do(t, ben, waitFor(`document.querySelectorAll("#messages .msg").length === 2`),
		chromedp.SendKeys(css("#f-text"), "Great."), chromedp.Click(css("#compose button")))
	browsertest.Do(t, ann, waitFor(`window.notReloaded && document.querySelectorAll("#messages .msg").length === 3`))
	browsertest.Screenshot(t, ann, "conversation")
	convURL := browsertest.Run(t, ann, chromedp.Evaluate[string](`location.href`))

	// Both connect Streamflix through the consent screen; Ann leaves
	// "profile" unticked.
	for _, who := range []struct {
		tab    context.Context
		scopes []string
	}{{ben, []string{"profile", "friends", "messages.send"}}, {ann, []string{"friends", "messages.send"}}} {
		browsertest.Do(t, who.tab,
			chromedp.Navigate(base+"/demo/streamflix/"),
			chromedp.Click(css(".gh-connect")),
			chromedp.WaitVisible(css(`button[value=allow]`)),
		)
		if who.tab == ann {
			browsertest.Screenshot(t, ann, "consent")
		}
		for _, s := range who.scopes {
			browsertest.Do(t, who.tab, chromedp.Click(css("#scope-"+strings.ReplaceAll(s, ".", `\.`))))
		}
		browsertest.Do(t, who.tab,
			chromedp.Click(css(`button[value=allow]`)),
			chromedp.WaitVisible(css(`form[action="/demo/streamflix/disconnect"]`)),
		)
	}
	grants, err := m.Store.Grants(context.Background(), mustMemberID(t, m, "ann"))
	if err != nil || len(grants) != 1 || strings.Join(grants[0].Scopes, " ") != "friends messages.send" {
		t.Fatalf("ann's grants %+v, %v; want Streamflix with friends and messages.send only", grants, err)
	}
	streamflix := grants[0].PartnerID

	// Ann recommends a film to Ben: it lands in Ben's chat, live, with
	// Streamflix's badge.
	browsertest.Do(t, ben, chromedp.Navigate(convURL), chromedp.WaitVisible(css("#compose")),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	browsertest.Do(t, ann,
		chromedp.Navigate(base+"/demo/streamflix/"),
		chromedp.WaitVisible(css("#recommend form")),
		chromedp.Click(css(`#recommend button[type=submit]`)),
		chromedp.WaitVisible(css("p.flash")),
	)
	browsertest.Screenshot(t, ann, "streamflix")
	browsertest.Do(t, ben, waitFor(`window.notReloaded && document.querySelector("#messages .msg:last-child .badge.via")?.textContent === "sent via Streamflix"`))
	browsertest.Screenshot(t, ben, "conversation-badge")

	// In Ann's privacy center, every Streamflix access is verified by the
	// browser against the signed checkpoint.
	history := base + "/privacy/apps/" + strconv.FormatInt(streamflix, 10)
	browsertest.Do(t, ann, chromedp.Navigate(history), chromedp.WaitVisible(css("table[data-verify]")),
		waitFor(`(() => { const r = [...document.querySelectorAll("table[data-verify] tbody tr")];
			return r.length >= 3 && r.every(e => e.dataset.verified === "verified") })()`))
	browsertest.Screenshot(t, ann, "privacy-history")

	// Ann disconnects Streamflix; its next call is refused, and recorded.
	browsertest.Do(t, ann,
		chromedp.Navigate(base+"/privacy"),
		chromedp.Click(css(`#app-`+strconv.FormatInt(streamflix, 10)+` .confirm-disconnect summary`)), // it asks first
		chromedp.Click(css(`form[action="/privacy/apps/`+strconv.FormatInt(streamflix, 10)+`/revoke"] button`)),
		chromedp.WaitVisible(css("#past-h")),
	)
	browsertest.Screenshot(t, ann, "privacy")
	before := mustAccessCount(t, m, "ann")
	browsertest.Do(t, ann,
		chromedp.Navigate(base+"/demo/streamflix/"),
		chromedp.WaitVisible(css(".error")),
	)
	refusal := browsertest.Run(t, ann, chromedp.Text(css(".error")))
	browsertest.Screenshot(t, ann, "streamflix-refused")
	recs, err := m.Store.MemberAccess(context.Background(), mustMemberID(t, m, "ann"), before, 0)
	if err != nil || len(recs) == 0 || recs[0].Granted || recs[0].PartnerID != streamflix {
		t.Fatalf("after disconnecting, Streamflix's next call: records %+v, %v; want one refused (page said %q)", recs, err, refusal)
	}
}

func mustMemberID(tb testing.TB, m *Main, handle string) int64 {
	tb.Helper()
	mem, err := m.Store.MemberByHandle(context.Background(), handle)
	if err != nil {
		tb.Fatal(err)
	}
	return mem.ID
}

func mustAccessCount(tb testing.TB, m *Main, handle string) uint64 {
	tb.Helper()
	n, err := m.Store.AccessCount(context.Background(), mustMemberID(tb, m, handle))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
