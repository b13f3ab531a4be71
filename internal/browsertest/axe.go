package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The accessibility check: axe-core (npm package axe-core, installed by
// `npm ci` at the repository root from its package-lock.json) runs over
// every page a test's tab shows, once per page when a Do or Run finishes
// on it, and again for each Screenshot (the states a test stops to look
// at) if the page changed since. Each violation is a problem of the tab: it fails the test when the
// tab closes, like a JavaScript exception.

// axeSource returns axe-core's script: $GLASSHOUSE_AXE when set, else
// node_modules/axe-core/axe.min.js in the nearest folder up from the
// working directory that has it.
func axeSource() (string, error) {
	path := os.Getenv("GLASSHOUSE_AXE")
	if path == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		start := dir
		for {
			p := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", fmt.Errorf("no node_modules/axe-core/axe.min.js in %s or above", start)
			}
			dir = parent
		}
	}
	axeFiles.mu.Lock()
	defer axeFiles.mu.Unlock()
	if src, ok := axeFiles.src[path]; ok {
		return src, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	axeFiles.src[path] = string(b)
	return string(b), nil
}

// axeFiles keeps the scripts read, by path.
var axeFiles = struct {
	mu  sync.Mutex
	src map[string]string
}{src: map[string]string{}}

// requireAxe fails the test in CI when axe-core is missing, and skips it
// elsewhere, with the line that says how to install it.
func requireAxe(t testing.TB) {
	t.Helper()
	if _, err := axeSource(); err != nil {
		msg := fmt.Sprintf("browsertest: axe-core is missing (%v): run npm ci at the repository root (or set GLASSHOUSE_AXE to axe.min.js)", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// axeResult is what the page's check returns.
type axeResult struct {
	URL        string
	Violations []struct {
		ID, Impact, Help string
		Nodes            []struct {
			Target         []any
			FailureSummary string
		}
	}
}

// checkJS runs axe on the page once, and again when forced if the page
// changed since; it returns null when there is nothing to check.
const checkJS = `(async (force) => {
	const w = window;
	if (!/^https?:/.test(location.protocol) || (w.__browsertestAxe && !(force && w.__browsertestAxeChanged))) return null;
	if (!w.__browsertestAxe) {
		new MutationObserver(() => { w.__browsertestAxeChanged = true; })
			.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
	}
	w.__browsertestAxe = true;
	const r = await axe.run(document, {resultTypes: ["violations"]});
	w.__browsertestAxeChanged = false;
	return {URL: location.href, Violations: r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help,
		Nodes: v.nodes.map(n => ({Target: n.target, FailureSummary: n.failureSummary || ""}))}))};
})`

// checkA11y runs axe-core over the tab's page unless it did already (with
// force: unless the page has not changed since), and adds each violation to
// the tab's problems.
// Pages that a test left before they finished loading are not checked.
func checkA11y(t testing.TB, ctx context.Context, force bool) {
	t.Helper()
	c, _ := ctx.Value(consoleKey{}).(*console)
	if c == nil {
		return // not a tab of NewContext
	}
	src, err := axeSource()
	if err != nil {
		return // New skipped or failed the test already
	}
	var res *axeResult
	for try := 0; ; try++ {
		res, err = runAxe(ctx, src, force)
		if err == nil || try == 2 || ctx.Err() != nil {
			break
		}
		// A navigation started: check the page it arrives at.
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("browsertest: accessibility check: %v", err)
	}
	if res == nil {
		return
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.FailureSummary, "\n", " ")))
		}
		c.add(fmt.Sprintf("accessibility (axe-core %s, %s) on %s: %s\n\t%s", v.ID, v.Impact, res.URL, v.Help, strings.Join(where, "\n\t")))
	}
}

func runAxe(ctx context.Context, src string, force bool) (*axeResult, error) {
	// A new tab's about:blank is no page of the site (and never loads).
	if web, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`/^https?:/.test(location.protocol)`)); err != nil || !web {
		return nil, err
	}
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.readyState === "complete"`, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		return nil, err
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;undefined")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	return chromedp.Run(ctx, chromedp.Evaluate[*axeResult](fmt.Sprintf("%s(%v)", checkJS, force), chromedp.EvalAwaitPromise))
}
