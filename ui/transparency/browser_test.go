package transparency_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/browsertest"
)

// TestBrowserLogPage reads the log's page in a browser in Tokyo: the
// times are in the reader's zone, in the page's one style, and the
// commands copy.
func TestBrowserLogPage(t *testing.T) {
	b := browsertest.New(t)
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", "streamflix", glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	at := time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC)
	s.MustRecord(t, sf, at, "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
	s.MustRecord(t, sf, at.Add(11*time.Hour), "GET /graph/v1/me/conversations/{id}/messages", false, glasshouse.ScopeMessagesRead)
	s.Log.MustFeed(t)

	tab := b.NewContext(t)
	browsertest.Do(t, tab, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
		return err
	}), chromedp.Navigate(s.URL+"/log"), chromedp.WaitVisible(chromedp.ID("latest-h")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("time[data-local]").length === 3`, chromedp.WithPollingInterval(50*time.Millisecond)))
	type shown struct{ Text, Title string }
	times := browsertest.Run(t, tab, chromedp.Evaluate[[]shown](
		`[...document.querySelectorAll(".entries time")].map(e => ({Text: e.textContent, Title: e.title}))`))
	want := []shown{{"4 Dec 2026, 10:05 GMT+9", "4 Dec 2026, 01:05 UTC"}, {"3 Dec 2026, 23:05 GMT+9", "3 Dec 2026, 14:05 UTC"}}
	// The two accesses, then the agreement's approval.
	if len(times) != 3 || times[0] != want[0] || times[1] != want[1] {
		t.Errorf("times shown %+v; want %+v", times, want)
	}
	browsertest.Screenshot(t, tab, "log")

	// The verify command copies as it reads.
	c := chromedp.FromContext(tab)
	if _, err := cdp.Call(tab, c.Browser, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted,
		Origin: s.URL, BrowserContextID: c.BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, tab, chromedp.Click(chromedp.CSS(`button[data-copy="verify-command"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("#verify-command + .command-actions .copy-status").textContent === "Copied."`,
			chromedp.WithPollingInterval(100*time.Millisecond)))
	got := browsertest.Run(t, tab, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(got, "glasshouse audit verify "+s.URL+" --key glasshouse.test/log+") {
		t.Errorf("clipboard %q; want the verify command", got)
	}

	// The partner directory, which each agreement row links to, reads in
	// the browser too (and passes the accessibility check every page does).
	browsertest.Do(t, tab, chromedp.Click(chromedp.CSS(`a[href="/partners#streamflix"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section#streamflix tr[data-action="approved"]`)))
	browsertest.Screenshot(t, tab, "partners")
}
