package pagetest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/glasshouse/glasshouse/internal/failtest"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/ui"
)

// MustSite serves a few pages: good ones (with the CSP header), and bad
// ones.
func MustSite(tb testing.TB) *httptest.Server {
	tb.Helper()
	page := func(csp bool, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if csp {
				w.Header().Set("Content-Security-Policy", ui.ContentSecurityPolicy)
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /form", page(true, `<form><input type="hidden" name="csrf" value="tok1"></form><script src="/a.js"></script>`))
	mux.Handle("GET /errors", page(true, `<p class="error" role="alert">Check &#34;this&#34; &amp; that.</p>`+
		`<span class="field-error" id="e-handle">That handle&#39;s taken.</span>`))
	mux.Handle("GET /nocsp", page(false, `<p>hello</p>`))
	mux.Handle("GET /inline-script", page(true, `<script>alert(1)</script>`))
	mux.Handle("GET /inline-style", page(true, `<p style="color:red">hi</p>`))
	mux.Handle("GET /style-tag", page(true, `<style>p{}</style>`))
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		ui.Redirect(w, r, "/form")
	})
	mux.HandleFunc("GET /redirect-nocsp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/form", http.StatusSeeOther) // HTML, no CSP header
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "csrf=%s handle=%s", r.PostFormValue("csrf"), r.PostFormValue("handle"))
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	srv := MustSite(t)
	c := pagetest.New(t, srv.URL, "/form")
	if c.CSRF != "tok1" {
		t.Fatalf("CSRF %q; want tok1", c.CSRF)
	}
	c.Post("/echo", url.Values{"handle": {"alice"}}).MustStatus(http.StatusOK).MustContain("csrf=tok1 handle=alice")
	c.PostRaw("/echo", url.Values{"handle": {"bob"}}).MustContain("csrf= handle=bob")
	c.Get("/errors").MustFormError(`Check "this" & that.`).MustFieldError("handle", "That handle's taken.")

	c.Get("/redirect").MustRedirect("/form")

	bare := pagetest.New(t, srv.URL, "")
	if bare.CSRF != "" {
		t.Fatalf("a client that loaded nothing holds CSRF %q", bare.CSRF)
	}
	bare.Post("/echo", url.Values{"handle": {"carol"}}).MustContain("csrf= handle=carol")
}

// TestFails shows that every check fails on a page that breaks it.
func TestFails(t *testing.T) {
	srv := MustSite(t)
	for _, tc := range []struct {
		name  string
		check func(c *pagetest.Client)
	}{
		{"no CSP header", func(c *pagetest.Client) { c.Get("/nocsp") }},
		{"inline script", func(c *pagetest.Client) { c.Get("/inline-script") }},
		{"style attribute", func(c *pagetest.Client) { c.Get("/inline-style") }},
		{"style element", func(c *pagetest.Client) { c.Get("/style-tag") }},
		{"redirect without CSP", func(c *pagetest.Client) { c.Get("/redirect-nocsp") }},
		{"status", func(c *pagetest.Client) { c.Get("/form").MustStatus(http.StatusNotFound) }},
		{"not a redirect", func(c *pagetest.Client) { c.Get("/form").MustRedirect("/form") }},
		{"redirect elsewhere", func(c *pagetest.Client) { c.Get("/redirect").MustRedirect("/errors") }},
		{"lacks text", func(c *pagetest.Client) { c.Get("/form").MustContain("csrf", "missing") }},
		{"holds text", func(c *pagetest.Client) { c.Get("/form").MustNotContain("missing", "csrf") }},
		{"no field error", func(c *pagetest.Client) { c.Get("/errors").MustFieldError("email", "That handle's taken.") }},
		{"other field error", func(c *pagetest.Client) { c.Get("/errors").MustFieldError("handle", "Too short.") }},
		{"no form error", func(c *pagetest.Client) { c.Get("/form").MustFormError(`Check "this" & that.`) }},
		{"other form error", func(c *pagetest.Client) { c.Get("/errors").MustFormError("Something else.") }},
		{"no match", func(c *pagetest.Client) { c.Get("/form").Find(`value="(\d+)"`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pagetest.New(t, srv.URL, "/form")
			if failed := failtest.Run(t, func(tb testing.TB) { tc.check(c.T(tb)) }); len(failed) == 0 {
				t.Error("passed; want a failure")
			} else {
				t.Logf("failed: %q", failed)
			}
		})
	}
}
