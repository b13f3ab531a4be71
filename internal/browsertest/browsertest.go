package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Timeout bounds the life of one test's browser: every action of the test
// fails once it has passed.
var Timeout = 5 * time.Minute

// Find returns the path of the Chromium to run: $GLASSHOUSE_CHROMIUM when
// set, else Debian's /usr/bin/chromium, else the first of chromium,
// chromium-browser and google-chrome on PATH; "" when there is none.
func Find() string {
	if p := os.Getenv("GLASSHOUSE_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium process, which ends with its test.
type Browser struct {
	ctx context.Context // the browser's chromedp context
}

// New starts a headless Chromium for the test, or skips the test when none
// is installed.
func New(t testing.TB) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browsertest: skipped in -short mode (the quick tier); .ci/run runs it")
	}
	path := Find()
	if path == "" {
		const msg = "browsertest: no chromium found: install it with apt-get install -y chromium (or set GLASSHOUSE_CHROMIUM to a Chromium binary)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg) // CI installs it: a missing browser is a broken run, not a skip
		}
		t.Skip(msg)
	}
	requireAxe(t)
	timeout := Timeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			timeout = min(timeout, time.Until(end)-5*time.Second)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless, // --headless
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	return &Browser{ctx: browserCtx}
}

// NewContext opens a tab in a new browser context, with its own cookies and
// storage: one signed-in member per context. The tab closes when the test
// ends, and then a JavaScript exception or a Content-Security-Policy
// violation seen in it fails the test, and so does each accessibility
// violation that axe-core finds on its pages (see checkA11y).
func (b *Browser) NewContext(t testing.TB) context.Context {
	t.Helper()
	c := &console{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(c.listen))
	t.Cleanup(func() {
		cancel() // no event arrives after this
		c.report(t)
	})
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("browsertest: open a tab: %v", err)
	}
	return context.WithValue(ctx, consoleKey{}, c)
}

// consoleKey holds a tab's console in its context.
type consoleKey struct{}

// Do runs the actions in the context's tab and fails the test at the first
// error. Then it checks the page the tab shows for accessibility.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	checkA11y(t, ctx, false)
}

// Run runs one action that returns a value and fails the test on error.
func Run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	checkA11y(t, ctx, false)
	return v
}

// console collects what a tab's console reports.
type console struct {
	mu       sync.Mutex
	problems []string // exceptions and CSP violations: the test fails
	errors   []string // other console errors: logged
}

// listen runs on the tab's event loop: it must be quick and must not call
// the browser.
func (c *console) listen(ev any) {
	var problem, logged string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		problem = fmt.Sprintf("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *log.EventEntryAdded:
		e := ev.Entry
		if isCSPViolation(e.Text) {
			problem = "CSP violation: " + e.Text
		} else if e.Level == log.EntryLevelError {
			logged = fmt.Sprintf("console %s error: %s %s", e.Source, e.Text, e.URL)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			logged = "console.error: " + strings.Join(args, " ")
		}
	}
	if problem == "" && logged == "" {
		return
	}
	if problem != "" {
		c.add(problem)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors = append(c.errors, logged)
}

// add records a problem once.
func (c *console) add(problem string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.problems, problem) {
		c.problems = append(c.problems, problem)
	}
}

// isCSPViolation reports whether a browser log line is Chromium's report of
// a Content-Security-Policy violation ("Refused to execute inline script
// because it violates the following Content Security Policy directive…").
func isCSPViolation(text string) bool {
	return strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Content-Security-Policy")
}

// report logs the console errors and fails the test for each problem.
func (c *console) report(t testing.TB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errors {
		t.Logf("browsertest: %s", e)
	}
	for _, p := range c.problems {
		t.Errorf("browsertest: %s", p)
	}
}

// kept is the folder named by $GLASSHOUSE_SCREENSHOTS that this run has
// already announced, so that it is printed once.
var kept struct {
	mu  sync.Mutex
	dir string
}

// testDirs holds each running test's screenshot folder, one t.TempDir().
var testDirs sync.Map // testing.TB -> string

// screenshotDir returns the folder for t's screenshots: $GLASSHOUSE_SCREENSHOTS
// when set (created if need be, printed the first time, kept after the run),
// else a temporary folder of the test's own, removed with it.
func screenshotDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("GLASSHOUSE_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("browsertest: screenshot folder: %v", err)
		}
		kept.mu.Lock()
		defer kept.mu.Unlock()
		if kept.dir != dir {
			kept.dir = dir
			fmt.Printf("browsertest: screenshots in %s\n", dir)
			t.Logf("browsertest: screenshots in %s", dir)
		}
		return dir
	}
	if dir, ok := testDirs.Load(t); ok {
		return dir.(string)
	}
	dir := t.TempDir()
	testDirs.Store(t, dir)
	t.Cleanup(func() { testDirs.Delete(t) })
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Screenshot saves a full-page PNG of the context's tab as
// <test name>-<name>.png and returns its path. The file is in the folder
// named by $GLASSHOUSE_SCREENSHOTS, which is kept; without it, in a
// temporary folder of the test's own, removed when the test ends.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	// A page still loading (just after a click that navigates) may never
	// give a frame: wait until it has.
	Do(t, ctx, chromedp.Poll[chromedp.Void](`document.readyState === "complete"`, chromedp.WithPollingInterval(50*time.Millisecond)))
	png := Run(t, ctx, chromedp.FullScreenshot(100))
	file := filepath.Join(screenshotDir(t), unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	checkA11y(t, ctx, true) // the state the test stopped to look at
	return file
}
