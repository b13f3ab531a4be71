// Package browsertest runs glasshouse's pages in a real, headless Chromium
// for tests, through github.com/chromedp/chromedp. It is the one harness
// every browser test uses.
//
// New finds Debian's chromium ($GLASSHOUSE_CHROMIUM, /usr/bin/chromium, or
// chromium, chromium-browser or google-chrome on PATH) and starts it
// headless; when there is none, the test is skipped with a line that says
// how to install it, so a browser test never passes silently. The browser
// lives at most Timeout (and never past the test's deadline), so a hung page
// fails the test instead of the whole run.
//
// Browser.NewContext opens a tab in a fresh browser context: each has its
// own cookie jar, so two members can be signed in at once. Every tab
// collects its console: a JavaScript exception or a Content-Security-Policy
// violation fails the test when the tab closes; other console errors are
// logged.
//
// Every tab also checks its pages for accessibility with axe-core (the npm
// package, installed by `npm ci` at the repository root): each page once,
// when a Do or Run ends on it, and each state a test takes a Screenshot of.
// Each violation fails the test when the tab closes. Without axe-core the
// test fails in CI ($CI set) and is skipped elsewhere, with a line that says
// how to install it.
//
// Screenshot writes a full-page PNG. To look at the pages, set
// $GLASSHOUSE_SCREENSHOTS to a folder: the screenshots are kept there, and
// the folder is printed once. Without it they go to the test's own temporary
// folder (t.TempDir) and are removed with the test, so that runs leave
// nothing behind.
//
//	b := browsertest.New(t)
//	alice := b.NewContext(t)
//	browsertest.Do(t, alice, chromedp.Navigate(srv.URL))
//	browsertest.Screenshot(t, alice, "landing")
package browsertest
