package browsertest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse/internal/browsertest"
)

// MustSite serves a few pages under a strict Content-Security-Policy.
func MustSite(tb testing.TB) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>test</title><main><h1>Test</h1><p id=p>page</p>%s</main></html>`, body)
		}
	}
	mux.HandleFunc("/clean", page(`<script src="/ok.js"></script>`))
	mux.HandleFunc("/inline", page(`<script>document.title = "inline ran"</script>`))
	mux.HandleFunc("/throws", page(`<script src="/throw.js"></script>`))
	mux.HandleFunc("/unlabelled", page(`<input type="text" name="q">`))
	mux.HandleFunc("/ok.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById("p").textContent = "script ran";`)
	})
	mux.HandleFunc("/throw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `throw new Error("boom from the page");`)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "who", Value: "alice", Path: "/"})
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>set</title><main><h1>Set</h1><p id=p>set</p></main></html>`)
	})
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) {
		who := "nobody"
		if c, err := r.Cookie("who"); err == nil {
			who = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>who</title><main><h1>Who</h1><p id=p>%s</p></main></html>`, who)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// recorder is a testing.TB that keeps the failures reported to it instead
// of failing, so that the harness's own verdicts can be checked.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestConsoleVerdicts(t *testing.T) {
	site := MustSite(t)
	b := browsertest.New(t)
	for _, tc := range []struct {
		name, path string
		want       string // in the one failure expected; "" for none
	}{
		{"clean page", "/clean", ""},
		{"inline script", "/inline", "CSP violation"},
		{"uncaught exception", "/throws", "boom from the page"},
		{"inaccessible", "/unlabelled", "accessibility (axe-core label, critical)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			t.Run("tab", func(t *testing.T) {
				rec.TB = t
				ctx := b.NewContext(rec)
				browsertest.Do(t, ctx, chromedp.Navigate(site.URL+tc.path), chromedp.WaitReady(chromedp.CSS("#p")))
			}) // the tab's cleanup has run: rec holds its verdict
			switch {
			case tc.want == "" && len(rec.errors) > 0:
				t.Errorf("failures %q on a clean page", rec.errors)
			case tc.want != "" && (len(rec.errors) != 1 || !strings.Contains(rec.errors[0], tc.want)):
				t.Errorf("failures %q; want one containing %q", rec.errors, tc.want)
			}
		})
	}
}

func TestContextsHaveTheirOwnCookies(t *testing.T) {
	site := MustSite(t)
	b := browsertest.New(t)
	alice, bob := b.NewContext(t), b.NewContext(t)
	browsertest.Do(t, alice, chromedp.Navigate(site.URL+"/set"), chromedp.Navigate(site.URL+"/who"))
	browsertest.Do(t, bob, chromedp.Navigate(site.URL+"/who"))
	if got := browsertest.Run(t, alice, chromedp.Text(chromedp.CSS("#p"))); got != "alice" {
		t.Errorf("alice's tab sees cookie %q; want alice", got)
	}
	if got := browsertest.Run(t, bob, chromedp.Text(chromedp.CSS("#p"))); got != "nobody" {
		t.Errorf("bob's tab sees cookie %q; want none", got)
	}
}

func TestScreenshot(t *testing.T) {
	site := MustSite(t)
	t.Setenv("GLASSHOUSE_SCREENSHOTS", t.TempDir())
	b := browsertest.New(t)
	ctx := b.NewContext(t)
	browsertest.Do(t, ctx, chromedp.Navigate(site.URL+"/clean"))
	path := browsertest.Screenshot(t, ctx, "clean page")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	if strings.ContainsAny(path[strings.LastIndex(path, "/")+1:], " /") {
		t.Errorf("file name %q has unsafe characters", path)
	}
}

func TestFindPrefersTheEnvironment(t *testing.T) {
	t.Setenv("GLASSHOUSE_CHROMIUM", "/opt/my/chromium")
	if got := browsertest.Find(); got != "/opt/my/chromium" {
		t.Errorf("Find() = %q; want $GLASSHOUSE_CHROMIUM", got)
	}
}

// TestScreenshotFolder: without $GLASSHOUSE_SCREENSHOTS a screenshot is in
// the test's own temporary folder and is gone once the test ends; with it,
// the screenshot is in that folder and stays.
func TestScreenshotFolder(t *testing.T) {
	site := MustSite(t)
	b := browsertest.New(t)
	keep := t.TempDir()
	for _, tc := range []struct {
		name, env string
		kept      bool
	}{
		{"unset", "", false},
		{"set", keep, true},
	} {
		var path string
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GLASSHOUSE_SCREENSHOTS", tc.env)
			ctx := b.NewContext(t)
			browsertest.Do(t, ctx, chromedp.Navigate(site.URL+"/clean"))
			path = browsertest.Screenshot(t, ctx, "clean page")
			want := keep + string(os.PathSeparator)
			if !tc.kept {
				// t.TempDir() returns a new folder in the test's own
				// temporary folder: the screenshot must be in the latter.
				own := t.TempDir()
				want = own[:strings.LastIndex(own, string(os.PathSeparator))+1]
			}
			if !strings.HasPrefix(path, want) {
				t.Errorf("screenshot at %s; want it in %s", path, want)
			}
		})
		if _, err := os.Stat(path); tc.kept && err != nil {
			t.Errorf("%s: screenshot gone after its test: %v", tc.name, err)
		} else if !tc.kept && !os.IsNotExist(err) {
			t.Errorf("%s: screenshot %s left behind after its test (stat: %v)", tc.name, path, err)
		}
	}
}
