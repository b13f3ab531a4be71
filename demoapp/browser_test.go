package demoapp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/browsertest"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
)

// TestInBrowser drives the demo apps and the consent screen in Chromium and
// saves a screenshot of each page (the harness prints the folder): the
// apps' home pages, the login and consent pages in the product's look (on
// a wide and a narrow screen), and each app once connected. A CSP
// violation or a script error on any page fails the test.
func TestInBrowser(t *testing.T) {
	br := browsertest.New(t)
	w := MustWorld(t)
	bob := br.NewContext(t)
	shot := func(ctx context.Context, name string) { browsertest.Screenshot(t, ctx, name) }

	browsertest.Do(t, bob, chromedp.Navigate(w.url+"/demo/"), chromedp.WaitVisible(chromedp.CSS(".apps")))
	shot(bob, "index")
	for _, app := range []string{"streamflix", "shopzon", "searchly"} {
		browsertest.Do(t, bob, chromedp.Navigate(w.url+"/demo/"+app+"/"), chromedp.WaitVisible(chromedp.CSS(".gh-connect")))
		shot(bob, app+"-home")
	}
	// bob connects Streamflix through the login and consent pages.
	browsertest.Do(t, bob,
		chromedp.Navigate(w.url+"/demo/streamflix/"),
		chromedp.Click(chromedp.CSS(".gh-connect")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	shot(bob, "login")
	browsertest.Do(t, bob,
		chromedp.SendKeys(chromedp.CSS("#handle"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	shot(bob, "login-error")
	browsertest.Do(t, bob,
		chromedp.SendKeys(chromedp.CSS("#password"), oauthtest.Password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
	)
	if bg := browsertest.Run(t, bob, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`)); bg != "rgb(15, 82, 87)" {
		t.Errorf("the consent page's header is %s: the product's stylesheet is not applied", bg)
	}
	shot(bob, "consent")
	browsertest.Do(t, bob, chromedp.EmulateViewport(390, 844))
	shot(bob, "consent-narrow")
	browsertest.Do(t, bob, chromedp.EmulateViewport(1280, 900))
	for _, scope := range []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend} {
		browsertest.Do(t, bob, chromedp.Click(chromedp.CSS("#scope-"+strings.ReplaceAll(scope, ".", `\.`))))
	}
	shot(bob, "consent-ticked")
	browsertest.Do(t, bob,
		chromedp.Click(chromedp.CSS(`button[value=allow]`)),
		chromedp.WaitVisible(chromedp.CSS(`details.disconnect summary`)),
	)
	shot(bob, "streamflix-connected-alone")

	// alice connects Streamflix too: bob is her friend there.
	alice := br.NewContext(t)
	for i, app := range []string{"streamflix", "shopzon", "searchly"} {
		browsertest.Do(t, alice, chromedp.Navigate(w.url+"/demo/"+app+"/"), chromedp.Click(chromedp.CSS(".gh-connect")))
		if i == 0 { // then she is signed in to glasshouse
			browsertest.Do(t, alice,
				chromedp.WaitVisible(chromedp.CSS("#password")),
				chromedp.SendKeys(chromedp.CSS("#handle"), "alice"),
				chromedp.SendKeys(chromedp.CSS("#password"), oauthtest.Password),
				chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			)
		}
		browsertest.Do(t, alice, chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)))
		browsertest.Run(t, alice, chromedp.Evaluate[bool](`document.querySelectorAll("input[name=scope]").forEach(b => b.click()); true`))
		browsertest.Do(t, alice,
			chromedp.Click(chromedp.CSS(`button[value=allow]`)),
			chromedp.WaitVisible(chromedp.CSS(`details.disconnect summary`)),
		)
		shot(alice, app+"-connected")
	}
	browsertest.Do(t, alice,
		chromedp.Navigate(w.url+"/demo/searchly/?q=privacy"),
		chromedp.WaitVisible(chromedp.CSS(".result")),
	)
	shot(alice, "searchly-results")
	browsertest.Do(t, alice, chromedp.Navigate(w.url+"/demo/streamflix/"), chromedp.EmulateViewport(390, 844))
	shot(alice, "streamflix-narrow")
}
