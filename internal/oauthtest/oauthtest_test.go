package oauthtest_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse/internal/failtest"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"golang.org/x/oauth2"
)

// server is a small authorization server with the platform's pages as the
// helpers read them (one form a page, its action relative, a CSRF token,
// the scopes as checkboxes), and a demo app at /demo/app/ as its partner.
type server struct {
	*httptest.Server
	mu        sync.Mutex
	req       url.Values // the authorization request
	posted    url.Values // the consent form as posted
	preTicked bool       // the consent page ticks a box
	badState  bool       // the redirect back carries another state
}

const csrf = "tok&1" // escaped on the pages

func newServer(t *testing.T) *server {
	s := &server{}
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.req = r.URL.Query()
		s.mu.Unlock()
		if _, err := r.Cookie("session"); err != nil {
			http.Redirect(w, r, "/oauth/login", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/oauth/consent", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /oauth/login", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method="post" action="login?id=1"><input type="hidden" name="csrf" value="`+html.EscapeString(csrf)+`">`+
			`<input name="handle"><input name="password" type="password"></form>`)
	})
	mux.HandleFunc("POST /oauth/login", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("csrf") != csrf || r.URL.Query().Get("id") != "1" || r.PostFormValue("handle") != "alice" || r.PostFormValue("password") != oauthtest.Password {
			http.Error(w, "wrong", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "alice", Path: "/"})
		http.Redirect(w, r, "/oauth/consent", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /oauth/consent", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		body := `<form method="post" action="/oauth/consent"><input type="hidden" name="csrf" value="` + html.EscapeString(csrf) + `">`
		for _, sc := range strings.Fields(s.req.Get("scope")) {
			if sc == "openid" {
				continue
			}
			checked := ""
			if s.preTicked {
				checked = " checked"
			}
			body += `<input type="checkbox" id="scope-` + sc + `" name="scope" value="` + sc + `"` + checked + `>`
		}
		page(w, body+`<button name="action" value="allow">Allow</button><button name="action" value="deny">Deny</button></form>`)
	})
	mux.HandleFunc("POST /oauth/consent", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.ParseForm()
		s.posted = r.PostForm
		if r.PostFormValue("csrf") != csrf {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		back, _ := url.Parse(s.req.Get("redirect_uri"))
		q := url.Values{"state": {s.req.Get("state")}}
		if s.badState {
			q.Set("state", "other")
		}
		if r.PostFormValue("action") == "deny" {
			q.Set("error", "access_denied")
		} else {
			q.Set("code", "the-code")
		}
		back.RawQuery = q.Encode()
		http.Redirect(w, r, back.String(), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PostFormValue("code") != "the-code" || s.req.Get("code_challenge_method") != "S256" ||
			oauth2.S256ChallengeFromVerifier(r.PostFormValue("code_verifier")) != s.req.Get("code_challenge") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60})
	})
	// The demo app: its Connect button starts the flow; its callback
	// takes the code and goes home, which then says it is connected.
	mux.HandleFunc("GET /demo/app/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("app"); err == nil {
			page(w, "Connected to glasshouse")
			return
		}
		page(w, `<form method="post" action="/demo/app/connect"><button>Connect</button></form>`)
	})
	mux.HandleFunc("POST /demo/app/connect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.config(s.URL+"/demo/app/callback").AuthCodeURL("demo-state", oauth2.SetAuthURLParam("scope", "openid friends profile")), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /demo/app/callback", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("code") == "" {
			http.Error(w, "no code", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "app", Value: "1", Path: "/demo/app/"})
		http.Redirect(w, r, "/demo/app/", http.StatusSeeOther)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

const partner = "http://127.0.0.1:9/callback"

// seen returns the last authorization request and consent form.
func (s *server) seen() (req, posted url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.req, s.posted
}

func (s *server) config(redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: "c", ClientSecret: "s", RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth/authorize", TokenURL: s.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
}

var alice = oauthtest.Consent{Handle: "alice", Password: oauthtest.Password}

func TestFlow(t *testing.T) {
	s := newServer(t)
	f := oauthtest.NewFlow(s.config(partner))
	b := oauthtest.NewBrowser(t, s.URL, partner)
	c := alice
	c.Scopes, c.Fields = []string{"friends", "phone"}, url.Values{"email": {"relay"}}
	tok := f.MustTokens(b, c, "openid", "profile", "friends")
	if tok.AccessToken != "at" {
		t.Errorf("token %+v", tok)
	}
	req, posted := s.seen()
	if got := req.Get("nonce"); got != f.Nonce || got == "" || f.State == "" || req.Get("state") != f.State {
		t.Errorf("request %v; want the flow's nonce and state", req)
	}
	// The scopes are ticked as given, offered or not; the fields added.
	if got := posted["scope"]; !slices.Equal(got, []string{"friends", "phone"}) || posted.Get("email") != "relay" || posted.Get("action") != "allow" {
		t.Errorf("posted %v", posted)
	}
	if c.Fields.Get("csrf") != "" {
		t.Error("Submit changed the caller's fields")
	}

	// Signed in now: nil ticks every scope offered; Deny comes back with
	// the error and the state.
	f = oauthtest.NewFlow(s.config(partner))
	f.Authorize(b, oauthtest.Consent{}, "openid", "profile", "email")
	if _, posted := s.seen(); !slices.Equal(posted["scope"], []string{"profile", "email"}) {
		t.Errorf("nil scopes ticked %v; want every one offered", posted["scope"])
	}
	back := f.Authorize(b, oauthtest.Consent{Deny: true, Scopes: []string{}})
	if _, posted := s.seen(); back.Query().Get("error") != "access_denied" || back.Query().Get("state") != f.State || len(posted["scope"]) != 0 {
		t.Errorf("deny: back at %s, posted %v", back, posted)
	}
	// The config's scopes unless others are given.
	f.Config.Scopes = []string{"openid", "friends"}
	if u, _ := url.Parse(f.URL()); u.Query().Get("scope") != "openid friends" {
		t.Errorf("URL() %s; want the config's scopes", u)
	}
}

func TestBrowser(t *testing.T) {
	s := newServer(t)
	b := oauthtest.NewBrowser(t, s.URL, "")
	login := b.Get("/oauth/authorize?redirect_uri=" + url.QueryEscape(partner))
	if !login.IsLogin() || login.IsConsent() || login.URL.Path != "/oauth/login" || login.Location != nil {
		t.Fatalf("login page: %d at %s, location %v", login.Status, login.URL, login.Location)
	}
	if got := login.FormAction(); got != "login?id=1" {
		t.Errorf("FormAction %q", got)
	}
	// The relative action, the unescaped token: the login goes through.
	consent := b.Submit(login, url.Values{"handle": {"alice"}, "password": {oauthtest.Password}})
	if !consent.IsConsent() || consent.IsLogin() {
		t.Fatalf("after signing in: %d at %s:\n%s", consent.Status, consent.URL, consent.Body)
	}
	// The browser keeps its cookies.
	if ck := b.Jar.Cookies(login.URL); len(ck) != 1 || ck[0].Value != "alice" {
		t.Errorf("cookies %v", ck)
	}
	// Without a token: refused.
	if r := b.Post(s.URL+"/oauth/consent", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("POST without a token: %d", r.Status)
	}

	// Following every redirect, the demo app connects.
	home := b.ConnectDemo("app", oauthtest.Consent{})
	if home.URL.Path != "/demo/app/" {
		t.Errorf("ConnectDemo ended at %s", home.URL)
	}
}

// TestFails shows that the helpers fail the test where the flow goes wrong.
func TestFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(tb testing.TB, s *server)
	}{
		{"a box comes ticked", func(tb testing.TB, s *server) {
			s.preTicked = true
			oauthtest.NewFlow(s.config(partner)).Authorize(oauthtest.NewBrowser(tb, s.URL, partner), alice, "openid", "profile")
		}},
		{"no member to sign in", func(tb testing.TB, s *server) {
			oauthtest.NewFlow(s.config(partner)).Authorize(oauthtest.NewBrowser(tb, s.URL, partner), oauthtest.Consent{}, "openid")
		}},
		{"wrong password: no consent page", func(tb testing.TB, s *server) {
			oauthtest.NewFlow(s.config(partner)).Authorize(oauthtest.NewBrowser(tb, s.URL, partner), oauthtest.Consent{Handle: "alice", Password: "x"}, "openid")
		}},
		{"another state", func(tb testing.TB, s *server) {
			s.badState = true
			oauthtest.NewFlow(s.config(partner)).Code(oauthtest.NewBrowser(tb, s.URL, partner), alice, "openid")
		}},
		{"an error", func(tb testing.TB, s *server) {
			oauthtest.NewFlow(s.config(partner)).Code(oauthtest.NewBrowser(tb, s.URL, partner), oauthtest.Consent{Handle: "alice", Password: oauthtest.Password, Deny: true}, "openid")
		}},
		{"the browser does not stop at the redirect URI", func(tb testing.TB, s *server) {
			oauthtest.NewFlow(s.config(partner)).Authorize(oauthtest.NewBrowser(tb, s.URL, ""), alice, "openid")
		}},
		{"the exchange fails", func(tb testing.TB, s *server) {
			f := oauthtest.NewFlow(s.config(partner))
			f.Verifier = oauth2.GenerateVerifier() // not the challenged one
			f.MustTokens(oauthtest.NewBrowser(tb, s.URL, partner), alice, "openid")
		}},
		{"no form", func(tb testing.TB, s *server) {
			b := oauthtest.NewBrowser(tb, s.URL, "")
			b.Submit(b.Get("/demo/app/callback?code=x"), nil)
		}},
		{"status", func(tb testing.TB, s *server) {
			oauthtest.NewBrowser(tb, s.URL, "").Get("/nowhere").MustStatus(http.StatusOK)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			if failed := failtest.Run(t, func(tb testing.TB) { tc.run(tb, s) }); len(failed) == 0 {
				t.Error("passed; want a failure")
			} else {
				t.Logf("failed: %q", failed)
			}
		})
	}
}
