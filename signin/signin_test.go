package signin_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
)

const testPassword = "correct horse battery staple"

// env is a Service on a SQLite store with one member, alice, and a clock
// that stands still until a test moves it.
type env struct {
	svc   *signin.Service
	clock *testclock.Clock
	key   []byte
	alice *glasshouse.Member
}

func newEnv(t *testing.T, adjust ...func(*signin.Config)) *env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "glasshouse.db"), sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{clock: testclock.At(time.Now()), key: make([]byte, 32)}
	rand.Read(e.key)
	e.alice = &glasshouse.Member{Handle: "alice", Email: "alice@example.org", Visibility: glasshouse.DefaultVisibility}
	if err := store.CreateMember(context.Background(), e.alice, password.Hash(testPassword)); err != nil {
		t.Fatal(err)
	}
	c := signin.Config{Store: store, Key: e.key, Now: e.clock.Now}
	for _, a := range adjust {
		a(&c)
	}
	e.svc = signin.New(c)
	return e
}

// TestLifetime: a session lasts the configured lifetime (30 days unless
// set), and its cookie as long.
func TestLifetime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		want     time.Duration
	}{{"default", 0, signin.DefaultLifetime}, {"set", time.Hour, time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *signin.Config) { c.Lifetime = tc.lifetime })
			token, sess, err := e.svc.Login(context.Background(), "Alice", testPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if sess.MemberID != e.alice.ID || !sess.CreatedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) || sess.ExpiresAt.Sub(sess.CreatedAt) != tc.want {
				t.Errorf("session %+v; want one of member %d lasting %v", sess, e.alice.ID, tc.want)
			}
			w := httptest.NewRecorder()
			e.svc.SetCookie(w, httptest.NewRequest("POST", "/", nil), token, sess)
			c := w.Result().Cookies()[0] // Max-Age is whole seconds, rounded down
			if c.Name != signin.CookieName || c.Value != token || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
				c.Secure || c.MaxAge > int(tc.want.Seconds()) || c.MaxAge < int(tc.want.Seconds())-1 {
				t.Errorf("cookie %+v", c)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(c)
			e.clock.Advance(tc.want - time.Second)
			if s, err := e.svc.FromCookie(r); err != nil || s.MemberID != e.alice.ID {
				t.Errorf("just before it ends: %v", err)
			}
			e.clock.Advance(time.Second)
			if _, err := e.svc.FromCookie(r); glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
				t.Errorf("once it ended: %v, want unauthorized", err)
			}
		})
	}
}

// TestLookup: the API reads a bearer token first, then the cookie; pages
// read the cookie only.
func TestLookup(t *testing.T) {
	e := newEnv(t)
	token, _, err := e.svc.Login(context.Background(), "alice", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	req := func(header ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		for i := 0; i < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		return r
	}
	cookie := signin.CookieName + "=" + token
	for _, tc := range []struct {
		name              string
		r                 *http.Request
		fromRequest, page bool // signed in for each
	}{
		{"bearer", req("Authorization", "Bearer "+token), true, false},
		{"cookie", req("Cookie", cookie), true, true},
		{"basic auth and the cookie", req("Authorization", "Basic YTpi", "Cookie", cookie), false, true},
		{"a bad bearer and the cookie", req("Authorization", "Bearer "+strings.Repeat("A", 43), "Cookie", cookie), false, true},
		{"a malformed cookie", req("Cookie", signin.CookieName+"=abc"), false, false},
		{"nothing", req(), false, false},
	} {
		_, err := e.svc.FromRequest(tc.r)
		if (err == nil) != tc.fromRequest || err != nil && glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
			t.Errorf("%s: FromRequest: %v", tc.name, err)
		}
		_, err = e.svc.FromCookie(tc.r)
		if (err == nil) != tc.page || err != nil && glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
			t.Errorf("%s: FromCookie: %v", tc.name, err)
		}
	}
}

// TestDummyHash: an unknown handle is verified against a hash made with
// the parameters of password.Hash, so that it costs as much as a known
// one; the dummy never signs anyone in.
func TestDummyHash(t *testing.T) {
	params := func(h string) string { // $argon2id$v=..$m=..,t=..,p=..$salt$key, salt and key by length
		f := strings.Split(h, "$")
		if len(f) != 6 {
			t.Fatalf("hash %q", h)
		}
		return strings.Join(f[:4], "$") + "$" + strings.Repeat("s", len(f[4])) + "$" + strings.Repeat("k", len(f[5]))
	}
	if got, want := params(signin.DummyHash), params(password.Hash("x")); got != want {
		t.Errorf("the dummy hash has the shape %s; password.Hash makes %s", got, want)
	}
	e := newEnv(t)
	if _, err := e.svc.CheckPassword(context.Background(), "nobody", testPassword, "192.0.2.1"); glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
		t.Errorf("an unknown handle: %v", err)
	}
}

// post returns a POST of the form with token, with the cookies.
func post(token string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestCSRF(t *testing.T) {
	s := newEnv(t).svc
	// A browser gets a cookie and a token with its first page.
	w := httptest.NewRecorder()
	token := s.CSRFToken(w, httptest.NewRequest("GET", "/", nil))
	cookie := w.Result().Cookies()[0]
	otherToken := s.CSRFToken(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if cookie.Name != "glasshouse_csrf" || cookie.Path != "/" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge != 0 {
		t.Errorf("cookie %+v", cookie)
	}

	if err := s.ParseForm(httptest.NewRecorder(), post(token, cookie)); err != nil {
		t.Errorf("the browser's own token: %v", err)
	}
	for name, err := range map[string]error{
		"no token":               s.ParseForm(httptest.NewRecorder(), post("", cookie)),
		"another browser's":      s.ParseForm(httptest.NewRecorder(), post(otherToken, cookie)),
		"token without a cookie": s.ParseForm(httptest.NewRecorder(), post(token)),
	} {
		if err != signin.ErrCSRF {
			t.Errorf("%s: %v, want ErrCSRF", name, err)
		}
	}
	big := httptest.NewRequest("POST", "/", strings.NewReader("csrf="+token+"&x="+strings.Repeat("x", 64<<10)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	big.AddCookie(cookie)
	if err := s.ParseForm(httptest.NewRecorder(), big); glasshouse.ErrorCode(err) != glasshouse.EINVALID {
		t.Errorf("a form over 64 KiB: %v, want invalid", err)
	}
}

// TestCSRFBoundToSession: a token is good only with the session it was made
// for: one made before sign-in does not pass once signed in, nor one of a
// session that ended once another began.
func TestCSRFBoundToSession(t *testing.T) {
	s := newEnv(t).svc
	withSession := func(r *http.Request, session string) *http.Request {
		if session != "" {
			r.AddCookie(&http.Cookie{Name: signin.CookieName, Value: session})
		}
		return r
	}
	w := httptest.NewRecorder()
	before := s.CSRFToken(w, httptest.NewRequest("GET", "/", nil))
	cookie := w.Result().Cookies()[0]
	tokenFor := func(session string) string {
		r := withSession(httptest.NewRequest("GET", "/", nil), session)
		r.AddCookie(cookie)
		return s.CSRFToken(httptest.NewRecorder(), r)
	}
	check := func(token, session string) error {
		return s.ParseForm(httptest.NewRecorder(), withSession(post(token, cookie), session))
	}
	if err := check(tokenFor("s1"), "s1"); err != nil {
		t.Errorf("a token of the session it is sent with: %v", err)
	}
	if err := check(before, ""); err != nil {
		t.Errorf("a token made without a session, sent without one: %v", err)
	}
	for name, err := range map[string]error{
		"made before sign-in":      check(before, "s1"),
		"of an earlier session":    check(tokenFor("s1"), "s2"),
		"of a session, signed out": check(tokenFor("s1"), ""),
	} {
		if glasshouse.ErrorCode(err) != glasshouse.EFORBIDDEN {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
}

// TestCSRFBinding: a token made for one binding (the OAuth pages' purpose
// and authorization request) passes for no other, nor without one.
func TestCSRFBinding(t *testing.T) {
	s := newEnv(t).svc
	w := httptest.NewRecorder()
	login := s.CSRFToken(w, httptest.NewRequest("GET", "/", nil), "oauth/login", "ar_1")
	cookie := w.Result().Cookies()[0]
	unbound := s.CSRFToken(httptest.NewRecorder(), post("", cookie))
	check := func(token string, binding ...string) error {
		return s.ParseForm(httptest.NewRecorder(), post(token, cookie), binding...)
	}
	if err := check(login, "oauth/login", "ar_1"); err != nil {
		t.Errorf("the token of its own binding: %v", err)
	}
	for name, err := range map[string]error{
		"another purpose":       check(login, "oauth/consent", "ar_1"),
		"another request":       check(login, "oauth/login", "ar_2"),
		"no binding":            check(login),
		"an unbound token":      check(unbound, "oauth/login", "ar_1"),
		"the parts run on":      check(login, "oauth/loginar_1"),
		"the parts split again": check(login, "oauth/", "loginar_1"),
	} {
		if err != signin.ErrCSRF {
			t.Errorf("%s: %v, want ErrCSRF", name, err)
		}
	}
}

// TestCSRFUnchanged: without a binding, a token is the member pages' token
// as it was before the OAuth pages shared the scheme, so that the forms
// open in browsers across that upgrade still post.
func TestCSRFUnchanged(t *testing.T) {
	e := newEnv(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: signin.CookieName, Value: "a session"})
	w := httptest.NewRecorder()
	token := e.svc.CSRFToken(w, r)
	h := sha256.Sum256([]byte("a session"))
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte("glasshouse/ui/csrf/v2\x00" + w.Result().Cookies()[0].Value + "\x00"))
	m.Write(h[:])
	if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); token != want {
		t.Errorf("token %s, want %s", token, want)
	}
}

// TestCSRFHostPrefix: with secure cookies the CSRF cookie takes the
// __Host- prefix (Secure, Path=/, no Domain), and a plain-named cookie that
// another subdomain could have planted does not count.
func TestCSRFHostPrefix(t *testing.T) {
	s := newEnv(t, func(c *signin.Config) { c.SecureCookies = true }).svc
	w := httptest.NewRecorder()
	token := s.CSRFToken(w, httptest.NewRequest("GET", "/", nil))
	c := w.Result().Cookies()[0]
	if c.Name != "__Host-glasshouse_csrf" || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie %+v, want __Host-glasshouse_csrf, Secure, Path=/, no Domain", c)
	}
	if err := s.ParseForm(httptest.NewRecorder(), post(token, &http.Cookie{Name: "__Host-glasshouse_csrf", Value: c.Value})); err != nil {
		t.Errorf("the __Host- cookie: %v", err)
	}
	if err := s.ParseForm(httptest.NewRecorder(), post(token, &http.Cookie{Name: "glasshouse_csrf", Value: c.Value})); glasshouse.ErrorCode(err) != glasshouse.EFORBIDDEN {
		t.Errorf("a plain-named cookie with secure cookies on: %v, want forbidden", err)
	}
}
