package demoapp_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
)

var (
	staticRE = regexp.MustCompile(`(?:src|href)="(/demo/static/[^"]+)"`)
	imgRE    = regexp.MustCompile(`<img [^>]*>`)
)

// TestHomePages checks every demo page before connecting: served with a
// CSP that allows no script, free of inline script and style, each with
// its own logo and stylesheet (which are served), images with alt text,
// and each app with its "Connect your glasshouse account" button.
func TestHomePages(t *testing.T) {
	w := MustWorld(t)
	b := newBrowser(t, w)
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"index", "/demo/", []string{`href="/demo/streamflix/"`, `href="/demo/shopzon/"`, `href="/demo/searchly/"`}},
		{"streamflix", "/demo/streamflix/", []string{"Now showing", "Metropolis", "Fritz Lang", "streamflix.svg",
			"Never reads your conversations", `action="/demo/streamflix/connect"`, "Connect your glasshouse account"}},
		{"shopzon", "/demo/shopzon/", []string{"Popular this week", "kettle.svg", "shopzon.svg",
			"private relay address", `action="/demo/shopzon/connect"`, "Connect your glasshouse account"}},
		{"searchly", "/demo/searchly/", []string{`role="search"`, `<label for="q"`, "searchly.svg",
			"Friends on Searchly", `action="/demo/searchly/connect"`, "Connect your glasshouse account"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(tc.path)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, want := range tc.want {
				if !strings.Contains(p.Body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			csp := p.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'",
				"form-action 'self' " + w.url + ";", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q allows script or unsafe sources", csp)
			}
			for _, bad := range []string{"<script", "<style", " style=", "http://", "https://"} {
				if strings.Contains(strings.ReplaceAll(p.Body, w.url, ""), bad) {
					t.Errorf("the page holds %q (inline code or an outside resource)", bad)
				}
			}
			for _, img := range imgRE.FindAllString(p.Body, -1) {
				if !strings.Contains(img, ` alt="`) {
					t.Errorf("image without alt text: %s", img)
				}
			}
			files := staticRE.FindAllStringSubmatch(p.Body, -1)
			if len(files) < 2 {
				t.Errorf("the page links %d static files; want its stylesheet and logo", len(files))
			}
			for _, f := range files {
				r := b.Get(f[1])
				if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
					t.Errorf("%s: status %d, Cache-Control %q", f[1], r.Status, r.Header.Get("Cache-Control"))
				}
			}
		})
	}
}

func TestStaticFiles(t *testing.T) {
	w := MustWorld(t)
	b := newBrowser(t, w)
	css := staticRE.FindStringSubmatch(b.Get("/demo/").Body)[1] // the stylesheet comes first
	version := strings.Split(css, "/")[3]
	for _, tc := range []struct {
		name, path, kind, cache string
		status                  int
	}{
		{"stylesheet", css, "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"logo", "/demo/static/" + version + "/streamflix.svg", "image/svg+xml", "no-cache", 200}, // another file's version
		{"old version", "/demo/static/0123456789abcdef/demo.css", "text/css; charset=utf-8", "no-cache", 200},
		{"unknown file", "/demo/static/" + version + "/nothing.css", "", "", 404},
		{"no climbing out", "/demo/static/" + version + "/..%2fdemoapp.go", "", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Get(tc.path)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
			if tc.status != 200 {
				return
			}
			for k, want := range map[string]string{"Content-Type": tc.kind, "Cache-Control": tc.cache,
				"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestConnectedPages connects each app and checks that the page says what
// the app does with the data, and that disconnecting is one visible
// button away.
func TestConnectedPages(t *testing.T) {
	w := MustWorld(t)
	alice, bob := newBrowser(t, w), newBrowser(t, w)
	connect(bob, "streamflix", w.bob, nil)

	t.Run("streamflix", func(t *testing.T) {
		p := connect(alice, "streamflix", w.alice, []string{"friends", "messages.send"})
		// Disconnecting asks first: the form is inside a closed <details>.
		if !regexp.MustCompile(`<details class="disconnect" id="disconnect">\n<summary>Disconnect from glasshouse…</summary>\n<p>[^<]*</p>\n<form method="post" action="/demo/streamflix/disconnect">`).MatchString(p.Body) ||
			strings.Count(p.Body, "/disconnect") != 1 {
			t.Errorf("the Disconnect form is not behind a confirmation:\n%s", p.Body)
		}
		for _, want := range []string{`action="/demo/streamflix/disconnect"`, "Recommend a film to a friend",
			`<select id="to" name="to"><option value="`, "Connected with glasshouse"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the connected page lacks %q", want)
			}
		}
		if strings.Contains(p.Body, w.alice.DisplayName) {
			t.Error("Streamflix shows alice's name although she did not share her profile")
		}
		// Streamflix asks only for what alice granted: no refused GET /me
		// lands in her log for the profile she did not share.
		recs, err := w.store.MemberAccess(context.Background(), w.alice.ID, 0, glasshouse.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !r.Granted {
				t.Errorf("Streamflix made a refused call for alice: %s %v %s", r.Endpoint, r.Scopes, r.Reason)
			}
		}
		// A poster's Recommend link picks its film in the form.
		if p := alice.Get("/demo/streamflix/?film=" + url.QueryEscape("Paris, Texas")); !strings.Contains(p.Body, "<option selected>Paris, Texas</option>") {
			t.Error("?film= does not pick the film to recommend")
		}
		p = alice.Post("/demo/streamflix/disconnect", url.Values{})
		if !strings.Contains(p.Body, "Disconnected.") || strings.Contains(p.Body, "/disconnect") || !strings.Contains(p.Body, "Connect your glasshouse account") {
			t.Errorf("after disconnecting:\n%s", p.Body)
		}
	})

	t.Run("shopzon", func(t *testing.T) {
		p := connect(bob, "shopzon", w.bob, nil)
		if !strings.Contains(p.Body, "Order confirmations and delivery updates go to") || !strings.Contains(p.Body, "@relay.") ||
			!strings.Contains(p.Body, "private relay address from glasshouse") || strings.Contains(p.Body, w.bob.Email) {
			t.Errorf("Shopzon should show the relay address it mails, and only that:\n%s", p.Body)
		}
		if !strings.Contains(p.Body, "Bob Okafor, connected") {
			t.Error("Shopzon's bar does not show who is connected")
		}
	})

	t.Run("searchly", func(t *testing.T) {
		p := connect(alice, "searchly", w.alice, nil)
		if !strings.Contains(p.Body, "None of your friends uses Searchly yet") {
			t.Errorf("Searchly page:\n%s", p.Body)
		}
		connect(bob, "searchly", w.bob, nil)
		if p := alice.Get("/demo/searchly/"); !strings.Contains(p.Body, `class="friend"`) {
			t.Error("Searchly does not list bob once he connected it too")
		}
	})
}

func TestSearchly(t *testing.T) {
	w := MustWorld(t)
	b := newBrowser(t, w)
	for _, tc := range []struct {
		name, q string
		want    []string // result links, in order
	}{
		{"one word", "films", []string{"/demo/streamflix/"}},
		{"every word must match", "privacy center", []string{w.url + "/privacy"}},
		{"any case", "GLASSHOUSE log", []string{w.url + "/log/checkpoint"}},
		{"nothing", "zebra", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get("/demo/searchly/?q=" + url.QueryEscape(tc.q))
			var got []string
			for _, m := range regexp.MustCompile(`<h3><a href="([^"]+)">`).FindAllStringSubmatch(p.Body, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("results %q, want %q", got, tc.want)
			}
			if tc.want == nil && !strings.Contains(p.Body, "Nothing found") {
				t.Error("no “Nothing found” line")
			}
			if !strings.Contains(p.Body, `value="`+tc.q+`"`) {
				t.Error("the search box does not keep the query")
			}
		})
	}
}

// TestConsentPageShowsAccesses checks the line the platform adds to the
// consent page from the world's AccessCount: Streamflix's accesses grow as
// members use it.
func TestConsentPageShowsAccesses(t *testing.T) {
	w := MustWorld(t)
	consent := func() string {
		b := newBrowser(t, w)
		p := b.Post("/demo/streamflix/connect", url.Values{})
		return b.Submit(p, url.Values{"handle": {"alice"}, "password": {oauthtest.Password}}).Body
	}
	if body := consent(); !strings.Contains(body, "None yet.") {
		t.Errorf("before any access: %s", body)
	}
	connect(newBrowser(t, w), "streamflix", w.bob, nil) // its home page reads bob's profile and friends
	if body := consent(); !strings.Contains(body, "2 accesses") || !strings.Contains(body, `href="/assets/style.css"`) {
		t.Errorf("after bob's visit: %s", body)
	}
}
