package ui_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/ui"
)

// browserResolve resolves a Location header against base roughly as a
// browser's URL parser (WHATWG) does for an http(s) page: it strips
// leading and trailing C0 controls and spaces, removes every tab and line
// break, and reads a backslash as a slash, before resolving.
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	return base.Parse(loc)
}

// FuzzSafeNext checks arbitrary next= values, as the sign-in page sends
// them on. Property: SafeNext gives next or the fallback, nothing else;
// and the redirect it leads to, read as a browser reads a Location
// header, stays on this site (same scheme and host): no open redirect.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/messages", "/conversations/1?x=y#z", "", "//evil.example", "/\\evil.example", "\\\\evil.example",
		"/\t/evil.example", "https://evil.example", "javascript:alert(1)", "/.//evil.example", " //evil.example", "/%2F/evil.example",
		"/a/..//evil.example", "http:/evil.example", "/x#/../..//evil.example", "/\u3000/evil.example", "/@evil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://glasshouse.example/signin?next=x")
	f.Fuzz(func(t *testing.T, next string) {
		got := ui.SafeNext(next, "/messages")
		if got != next && got != "/messages" {
			t.Fatalf("SafeNext(%q) = %q, neither next nor the fallback", next, got)
		}
		w := httptest.NewRecorder()
		ui.Redirect(w, httptest.NewRequest("POST", base.String(), nil), got)
		loc := w.Header().Get("Location")
		u, err := browserResolve(base, loc)
		if err != nil {
			t.Fatalf("SafeNext(%q) = %q: Location %q does not parse: %v", next, got, loc, err)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
			t.Fatalf("SafeNext(%q) = %q: Location %q leads to %s", next, got, loc, u)
		}
	})
}
