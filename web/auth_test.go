package web_test

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/web"
)

func TestSignupAndLogin(t *testing.T) {
	ts := MustServer(t)
	m := ts.MustSignup(t, "alice")
	if m.ID == 0 || m.Handle != "alice" || m.Email != "alice@example.org" || m.Visibility != glasshouse.DefaultVisibility {
		t.Fatalf("signup returned %+v", m)
	}

	resp := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": testPassword}).
		MustStatus(t, http.StatusCreated)
	var out struct {
		Token  string
		Member glasshouse.Member
	}
	resp.Decode(t, &out)
	if len(out.Token) != 43 || out.Member.ID != m.ID {
		t.Fatalf("login returned %s", resp.Body)
	}
	cookie := (&http.Response{Header: resp.Header}).Cookies()
	if len(cookie) != 1 || cookie[0].Name != signin.CookieName || cookie[0].Value != out.Token ||
		!cookie[0].HttpOnly || cookie[0].SameSite != http.SameSiteLaxMode || cookie[0].Secure {
		t.Fatalf("login cookie %+v; want HttpOnly, SameSite=Lax, not Secure on plain HTTP", cookie)
	}

	var me glasshouse.Member
	ts.Do(t, out.Token, "GET", "/api/v1/me", nil).MustStatus(t, http.StatusOK).Decode(t, &me)
	if me.ID != m.ID || me.Email != m.Email {
		t.Fatalf("GET /me with bearer = %+v", me)
	}
	ts.Raw(t, "", "GET", "/api/v1/me", "", nil, "Cookie", signin.CookieName+"="+out.Token).MustStatus(t, http.StatusOK)
}

func TestSecureCookies(t *testing.T) {
	ts := MustServer(t, withSignIn(func(c *signin.Config) { c.SecureCookies = true }))
	ts.MustSignup(t, "alice")
	resp := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": testPassword})
	if c := (&http.Response{Header: resp.Header}).Cookies(); len(c) != 1 || !c[0].Secure {
		t.Fatalf("cookie %+v; want Secure", c)
	}
}

func TestSignupRejected(t *testing.T) {
	ts := MustServer(t)
	ts.MustSignup(t, "alice")
	tests := []struct {
		name   string
		signup glasshouse.Signup
		status int
		code   string
	}{
		{"handle taken", glasshouse.Signup{Handle: "alice", Email: "other@example.org", Password: testPassword}, 409, glasshouse.ECONFLICT},
		{"email taken", glasshouse.Signup{Handle: "alice2", Email: "ALICE@example.org", Password: testPassword}, 409, glasshouse.ECONFLICT},
		{"bad handle", glasshouse.Signup{Handle: "Al", Email: "al@example.org", Password: testPassword}, 400, glasshouse.EINVALID},
		{"short password", glasshouse.Signup{Handle: "bob", Email: "bob@example.org", Password: "short"}, 400, glasshouse.EINVALID},
		{"no email", glasshouse.Signup{Handle: "bob", Password: testPassword}, 400, glasshouse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				ts.Do(t, "", "POST", "/api/v1/members", tt.signup).MustError(t, tt.status, tt.code)
			})
		})
	}
}

func TestLoginRejected(t *testing.T) {
	ts := MustServer(t)
	ts.MustSignup(t, "alice")
	tests := []struct {
		name           string
		handle, passwd string
		status         int
		code           string
	}{
		{"wrong password", "alice", "not the password", 401, glasshouse.EUNAUTHORIZED},
		{"unknown handle", "nobody", testPassword, 401, glasshouse.EUNAUTHORIZED},
		{"empty password", "alice", "", 400, glasshouse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				resp := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": tt.handle, "password": tt.passwd})
				resp.MustError(t, tt.status, tt.code)
				if c := resp.Header.Get("Set-Cookie"); c != "" {
					t.Fatalf("failed login set a cookie: %s", c)
				}
			})
		})
	}
	// Unknown handles and wrong passwords read the same.
	a := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": "nope nope nope"})
	b := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "nobody", "password": "nope nope nope"})
	if string(a.Body) != string(b.Body) {
		t.Fatalf("wrong password answers %s but unknown handle answers %s", a.Body, b.Body)
	}
}

func TestUnauthenticated(t *testing.T) {
	ts := MustServer(t)
	ts.MustSignup(t, "alice")
	tests := []struct {
		name   string
		header []string
	}{
		{"no credentials", nil},
		{"basic auth", []string{"Authorization", "Basic YWxpY2U6cGFzc3dvcmQ="}},
		{"malformed token", []string{"Authorization", "Bearer abc"}},
		{"unknown token", []string{"Authorization", "Bearer " + strings.Repeat("A", 43)}},
		{"unknown cookie", []string{"Cookie", signin.CookieName + "=" + strings.Repeat("B", 43)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				for _, req := range []struct{ method, path, body string }{
					{"GET", "/api/v1/me", ""},
					{"GET", "/api/v1/conversations", ""},
					{"POST", "/api/v1/friend-requests", `{"handle":"alice"}`},
					{"POST", "/api/v1/blocks", `{"handle":"alice"}`},
					{"GET", "/api/v1/stream", ""},
				} {
					var body []byte
					if req.body != "" {
						body = []byte(req.body)
					}
					resp := ts.Raw(t, "", req.method, req.path, "application/json", body, tt.header...)
					resp.MustError(t, http.StatusUnauthorized, glasshouse.EUNAUTHORIZED)
					if resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s %s: 401 without WWW-Authenticate", req.method, req.path)
					}
				}
			})
		})
	}
}

func TestLogout(t *testing.T) {
	ts := MustServer(t)
	ts.MustSignup(t, "alice")
	phone, laptop, tablet := ts.MustLogin(t, "alice", testPassword), ts.MustLogin(t, "alice", testPassword), ts.MustLogin(t, "alice", testPassword)

	resp := ts.Do(t, phone, "DELETE", "/api/v1/sessions/current", nil).MustStatus(t, http.StatusNoContent)
	if c := (&http.Response{Header: resp.Header}).Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout cookie %+v; want it cleared", c)
	}
	ts.Do(t, phone, "GET", "/api/v1/me", nil).MustError(t, 401, glasshouse.EUNAUTHORIZED)
	ts.Do(t, laptop, "GET", "/api/v1/me", nil).MustStatus(t, http.StatusOK)

	ts.Do(t, laptop, "DELETE", "/api/v1/sessions", nil).MustStatus(t, http.StatusNoContent)
	for _, token := range []string{laptop, tablet} {
		ts.Do(t, token, "GET", "/api/v1/me", nil).MustError(t, 401, glasshouse.EUNAUTHORIZED)
	}
}

func TestChangePassword(t *testing.T) {
	ts := MustServer(t)
	ts.MustSignup(t, "alice")
	current, other := ts.MustLogin(t, "alice", testPassword), ts.MustLogin(t, "alice", testPassword)
	const newPassword = "an even better passphrase"

	t.Run("wrong current password", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, current, "PUT", "/api/v1/me/password", map[string]string{"current": "wrong wrong wrong", "new": newPassword}).
				MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		})
	})
	t.Run("new password too short", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, current, "PUT", "/api/v1/me/password", map[string]string{"current": testPassword, "new": "short"}).
				MustError(t, http.StatusBadRequest, glasshouse.EINVALID)
		})
	})

	ts.Do(t, current, "PUT", "/api/v1/me/password", map[string]string{"current": testPassword, "new": newPassword}).
		MustStatus(t, http.StatusNoContent)
	ts.Do(t, current, "GET", "/api/v1/me", nil).MustStatus(t, http.StatusOK)
	ts.Do(t, other, "GET", "/api/v1/me", nil).MustError(t, 401, glasshouse.EUNAUTHORIZED)
	ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": testPassword}).
		MustError(t, 401, glasshouse.EUNAUTHORIZED)
	ts.MustLogin(t, "alice", newPassword)
}

func TestLoginRateLimitPerAccount(t *testing.T) {
	clk := testclock.At(time.Now())
	ts := MustServer(t, func(c *web.Config) { c.Now = clk.Now }, withSignIn(func(c *signin.Config) {
		c.PerAccount = ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 3, Now: clk.Now})
	}))
	ts.MustSignup(t, "alice")
	login := func(password string) *response {
		return ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": password})
	}
	// Successful logins do not count.
	for range 5 {
		login(testPassword).MustStatus(t, http.StatusCreated)
	}
	for range 3 {
		login("guess guess guess").MustError(t, 401, glasshouse.EUNAUTHORIZED)
	}
	// Now even the right password is refused, and nothing is written.
	ts.MustWriteNothing(t, func() {
		resp := login(testPassword).MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
		if ra := resp.Header.Get("Retry-After"); ra != "60" {
			t.Fatalf("Retry-After %q; want 60", ra)
		}
	})
	// Another account from the same address is not held back.
	ts.MustSignup(t, "bob")
	ts.MustLogin(t, "bob", testPassword)

	clk.Advance(time.Minute)
	login(testPassword).MustStatus(t, http.StatusCreated)
	login("guess guess guess").MustError(t, 401, glasshouse.EUNAUTHORIZED)
	login(testPassword).MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
}

func TestLoginRateLimitPerIP(t *testing.T) {
	clk := testclock.At(time.Now())
	ts := MustServer(t, func(c *web.Config) { c.Now = clk.Now }, withSignIn(func(c *signin.Config) {
		c.PerIP = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 3, Now: clk.Now})
	}))
	ts.MustSignup(t, "dan")
	for _, handle := range []string{"ann", "ben", "cat"} { // unknown handles fail too
		ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": handle, "password": testPassword}).
			MustError(t, 401, glasshouse.EUNAUTHORIZED)
	}
	resp := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "dan", "password": testPassword}).
		MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
	if ra := resp.Header.Get("Retry-After"); ra != "3600" {
		t.Fatalf("Retry-After %q; want 3600", ra)
	}
}

// Behind a trusted proxy each client has its own limit, taken from
// X-Forwarded-For; a header from anyone else is not believed.
func TestLoginRateLimitBehindProxy(t *testing.T) {
	clk := testclock.At(time.Now())
	ts := MustServer(t, func(c *web.Config) {
		c.Now = clk.Now
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}, withSignIn(func(c *signin.Config) {
		c.PerIP = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 2, Now: clk.Now})
	}))
	login := func(forwardedFor, handle string) int {
		body := strings.NewReader(`{"handle":"` + handle + `","password":"wrong password!"}`)
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/sessions", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, handle := range []string{"ann", "ben"} {
		if st := login("203.0.113.1", handle); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if st := login("203.0.113.1", "cat"); st != http.StatusTooManyRequests {
		t.Errorf("third failure from 203.0.113.1: %d, want 429", st)
	}
	if st := login("203.0.113.2", "dan"); st != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401 (its own limit)", st)
	}
	// A client that lies about its address only hides behind the proxy's
	// own hop: the proxy appends the real one, which is what counts.
	if st := login("198.51.100.9, 203.0.113.1", "eve"); st != http.StatusTooManyRequests {
		t.Errorf("a forged first hop: %d, want 429 (the address the proxy saw)", st)
	}
}

func TestPasswordChangeRateLimit(t *testing.T) {
	clk := testclock.At(time.Now())
	ts := MustServer(t, func(c *web.Config) { c.Now = clk.Now }, withSignIn(func(c *signin.Config) {
		c.PerAccount = ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 2, Now: clk.Now})
	}))
	alice := ts.MustMember(t, "alice")
	change := func(current string) *response {
		return ts.Do(t, alice.Token, "PUT", "/api/v1/me/password", map[string]string{"current": current, "new": "a new passphrase!"})
	}
	change("guess guess guess").MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
	change("guess guess guess").MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
	ts.MustWriteNothing(t, func() {
		change(testPassword).MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
	})
}

// TestSecretsStayOutOfLogs checks that no password or token reaches a log
// line, whatever the request did.
func TestSecretsStayOutOfLogs(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	const newPassword = "a brand new passphrase"
	ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": "not my password!"})
	ts.Do(t, alice.Token, "PUT", "/api/v1/me/password", map[string]string{"current": testPassword, "new": newPassword}).
		MustStatus(t, http.StatusNoContent)
	ts.Raw(t, alice.Token, "POST", "/api/v1/members", "application/json", []byte(`{"handle":"bob","password":"`+newPassword+`x"`))
	ts.Do(t, alice.Token, "DELETE", "/api/v1/sessions/current", nil)

	logs := ts.Logs.String()
	if !strings.Contains(logs, `"route":"POST /api/v1/sessions"`) {
		t.Fatalf("requests were not logged:\n%s", logs)
	}
	for _, secret := range []string{testPassword, newPassword, "not my password!", alice.Token} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold the secret %q:\n%s", secret, logs)
		}
	}
}

// TestLoginRateLimitConcurrent: failed attempts in flight together cannot
// pass the limit (each takes its token before the password is checked).
func TestLoginRateLimitConcurrent(t *testing.T) {
	ts := MustServer(t, withSignIn(func(c *signin.Config) {
		c.PerAccount = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 10})
	}))
	ts.MustSignup(t, "alice")
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			r := ts.Do(t, "", "POST", "/api/v1/sessions", map[string]string{"handle": "alice", "password": "wrong wrong wrong"})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[401] != 10 || statuses[429] != 30 {
		t.Fatalf("statuses %v; want 10 × 401 and 30 × 429", statuses)
	}
}

func TestSignupRateLimitPerIP(t *testing.T) {
	ts := MustServer(t, func(c *web.Config) {
		c.SignupsPerIP = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 2})
	})
	ts.MustSignup(t, "ann")
	ts.MustSignup(t, "ben")
	ts.MustWriteNothing(t, func() {
		resp := ts.Do(t, "", "POST", "/api/v1/members", map[string]string{"handle": "cat", "email": "cat@example.org", "password": testPassword}).
			MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
}
