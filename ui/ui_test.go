package ui_test

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/ui"
)

// noSessions is a store that these tests never reach: they render pages
// for visitors, who carry no session.
type noSessions struct{ signin.Store }

func newKit(t *testing.T) *ui.Kit {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return ui.New(ui.Config{SignIn: signin.New(signin.Config{Store: noSessions{}, Key: key})})
}

// page is a page template the way the ui packages write theirs.
var page = fstest.MapFS{"pages/hello.html": {Data: []byte(
	`{{define "title"}}Hello{{end}}{{define "main"}}<p id="who">{{.Data}}</p>{{template "csrf" .}}{{end}}`)}}

func TestRender(t *testing.T) {
	k := newKit(t)
	pages, err := k.Pages(page, nil, "pages/*.html")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	k.Render(w, httptest.NewRequest("GET", "/hello", nil), pages["hello"], http.StatusOK, &ui.Page{Data: `<script>alert(1)</script>`})
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(body, "<script>alert") {
		t.Errorf("status %d, body does not escape the data:\n%s", w.Code, body)
	}
	h := w.Result().Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if !strings.Contains(body, `href="/assets/style.css?v=`) || !strings.Contains(body, `name="csrf" value="`) {
		t.Errorf("page lacks the versioned stylesheet or the CSRF field:\n%s", body)
	}
	// The footer leads to the log's page; time.js is on every page.
	if !strings.Contains(body, `<a href="/log">public transparency log</a>`) || !strings.Contains(body, `<script src="/assets/js/time.js?v=`) {
		t.Errorf("page lacks the footer's link to /log or time.js:\n%s", body)
	}
}

func TestAssets(t *testing.T) {
	k := newKit(t)
	mux := http.NewServeMux()
	k.Mount(mux)
	versioned := k.AssetURL("style.css")
	for _, tc := range []struct {
		path, cache string
		status      int
	}{
		{versioned, "public, max-age=31536000, immutable", 200},
		{"/assets/style.css", "no-cache", 200},
		{"/assets/style.css?v=old", "no-cache", 200},
		{"/favicon.ico", "no-cache", 200},
		{"/assets/nope.css", "", 404},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.status || w.Result().Header.Get("Cache-Control") != tc.cache {
			t.Errorf("GET %s: %d, Cache-Control %q; want %d, %q", tc.path, w.Code, w.Result().Header.Get("Cache-Control"), tc.status, tc.cache)
		}
	}
	// The stylesheet is every file of static/css, joined.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", versioned, nil))
	if css := w.Body.String(); !strings.Contains(css, "--glass:") || !strings.Contains(css, ".privacy") || w.Result().Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("style.css (%s) lacks a part", w.Result().Header.Get("Content-Type"))
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/messages/3":         "/messages/3",
		"":                    "/home",
		"https://evil.test/":  "/home",
		"//evil.test/":        "/home",
		"/\\evil.test":        "/home",
		"messages":            "/home",
		"/privacy?x=1#events": "/privacy?x=1#events",
		"/\t/evil.test":       "/home",
		"/\t\\evil.test":      "/home",
		"/\n/evil.test":       "/home",
		"/%09/evil.test":      "/%09/evil.test", // escaped: a path on this site
		"/a\\b":               "/home",
		"/\x7f/evil.test":     "/home",
	} {
		if got := ui.SafeNext(next, "/home"); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestNotFound(t *testing.T) {
	k := newKit(t)
	mux := http.NewServeMux()
	k.Mount(mux)
	mux.HandleFunc("GET /there", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("here")) })
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := get("/there"); w.Code != 200 || w.Body.String() != "here" {
		t.Errorf("a route of its own: %d %q", w.Code, w.Body)
	}
	// A browser's path: the page, in the layout, with the headers.
	for _, path := range []string{"/nowhere", "/messages/x/y", "/demo/nothing/here", "/docs.md"} {
		w := get(path)
		body := w.Body.String()
		if w.Code != http.StatusNotFound || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "<h1 id=\"nf-h\">Page not found</h1>") || !strings.Contains(body, `href="/assets/style.css?v=`) ||
			w.Header().Get("Content-Security-Policy") != ui.ContentSecurityPolicy {
			t.Errorf("GET %s: %d %s; want the styled 404 page:\n%s", path, w.Code, w.Header().Get("Content-Type"), body)
		}
	}
	// The APIs' paths keep their JSON errors.
	for _, path := range []string{"/api/v9/nothing", "/graph/v2/me", "/oauth/nothing", "/log/nothing", "/.well-known/nothing"} {
		w := get(path)
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" ||
			!strings.Contains(w.Body.String(), `"error":"`+glasshouse.ENOTFOUND+`"`) {
			t.Errorf("GET %s: %d %s %q; want the JSON 404", path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

func TestTimes(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 4, 59, 0, time.FixedZone("CET", 3600))
	if got, want := string(ui.Date(at)), `<time datetime="2026-12-03T14:04:59Z" data-format="date">3 Dec 2026</time>`; got != want {
		t.Errorf("Date = %s; want %s", got, want)
	}
	if got, want := string(ui.DateTime(at)), `<time datetime="2026-12-03T14:04:59Z" data-format="datetime">3 Dec 2026, 14:04 UTC</time>`; got != want {
		t.Errorf("DateTime = %s; want %s", got, want)
	}
	if got := ui.DateTime(time.Time{}); got != "never" {
		t.Errorf("DateTime(zero) = %s; want never", got)
	}
}

func TestDayFunc(t *testing.T) {
	k := newKit(t)
	pages, err := k.Pages(fstest.MapFS{"pages/day.html": {Data: []byte(`{{define "title"}}Day{{end}}{{define "main"}}<p id="d">{{day .Data}}</p>{{end}}`)}}, nil, "pages/*.html")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC) // a UTC day of a chart: not an instant for time.js
	k.Render(w, httptest.NewRequest("GET", "/", nil), pages["day"], http.StatusOK, &ui.Page{Data: day})
	if !strings.Contains(w.Body.String(), `<p id="d">3 Dec 2026</p>`) {
		t.Errorf("day renders as:\n%s", w.Body)
	}
}
