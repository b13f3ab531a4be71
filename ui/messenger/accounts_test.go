package messenger_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/web"
)

func TestLanding(t *testing.T) {
	s := MustSite(t)
	s.NewClient(t).Get("/").MustStatus(http.StatusOK).MustContain(
		"messenger for you and your friends",
		"only reach your data with your consent",
		"public, verifiable transparency log",
		`href="/signup"`, `href="/signin"`)
	s.MustMember(t, "alice", "Alice").Get("/").MustRedirect("/messages")
	s.NewClient(t).Get("/nowhere").MustStatus(http.StatusNotFound)
}

func TestSignup(t *testing.T) {
	s := MustSite(t)
	s.MustMember(t, "taken", "Taken")
	good := func(change func(url.Values)) url.Values {
		v := url.Values{"handle": {"newbie"}, "display_name": {"New Bie"}, "email": {"newbie@example.org"}, "new_password": {testPassword}}
		change(v)
		return v
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		field  string
		msg    string
	}{
		{"bad handle", good(func(v url.Values) { v.Set("handle", "no spaces please") }), 400, "handle", "Handle must be 3 to 30 characters of a-z, 0-9 and _."},
		{"short password", good(func(v url.Values) { v.Set("new_password", "short") }), 400, "new_password", "Password must be at least 10 characters."},
		{"bad email", good(func(v url.Values) { v.Set("email", "not an address") }), 400, "email", "Email must be a plain address such as name@example.org."},
		{"no email", good(func(v url.Values) { v.Del("email") }), 400, "email", "Email is required."},
		{"long name", good(func(v url.Values) { v.Set("display_name", strings.Repeat("x", glasshouse.MaxNameLen+1)) }), 400, "display_name", "Display name must be valid UTF-8, at most 100 characters, without leading or trailing spaces."},
		{"handle taken", good(func(v url.Values) { v.Set("handle", "taken") }), 409, "handle", `The handle "taken" is taken.`},
		{"email taken", good(func(v url.Values) { v.Set("email", "taken@example.org") }), 409, "email", "The email address is taken."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := s.NewClient(t).Post("/signup", tc.form).MustStatus(tc.status)
			if tc.msg != "" {
				p.MustFieldError(tc.field, tc.msg)
			} else {
				p.Find(`id="e-` + tc.field + `">([^<]+)<`)
			}
			p.MustNotContain(testPassword)
			if _, err := s.Store.MemberByHandle(context.Background(), "newbie"); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
				t.Errorf("member written: %v", err)
			}
		})
	}
	t.Run("every mistake at once", func(t *testing.T) {
		p := s.NewClient(t).Post("/signup", url.Values{"handle": {"X"}, "email": {"x"}, "new_password": {"x"}}).MustStatus(400)
		p.MustFieldError("handle", "Handle must be 3 to 30 characters of a-z, 0-9 and _.")
		p.MustFieldError("email", "Email must be a plain address such as name@example.org.")
		p.MustFieldError("new_password", "Password must be at least 10 characters.")
		p.MustContain(`value="X"`, `value="x"`)
	})
	t.Run("good", func(t *testing.T) {
		c := s.NewClient(t)
		c.Post("/signup", good(func(v url.Values) { v.Set("handle", "@NewBie ") })).MustRedirect("/friends?done=welcome")
		c.Get("/friends?done=welcome").MustStatus(http.StatusOK).MustContain("Welcome to glasshouse!", "Sign out @newbie")
	})
	t.Run("signed in", func(t *testing.T) {
		s.MustMember(t, "someone", "").Get("/signup").MustRedirect("/messages")
	})
}

// TestRetryAfterRoundsUp: a wait of 0.4 s is "Retry-After: 1" on the
// pages as in the APIs, never "0", which would send the browser back too
// soon.
func TestRetryAfterRoundsUp(t *testing.T) {
	still := time.Now()
	s := MustSite(t, func(o *sitetest.Options) {
		o.Web = func(c *web.Config) {
			c.SignupsPerIP = ratelimit.New(ratelimit.Config{Every: 400 * time.Millisecond, Burst: 1, Now: func() time.Time { return still }})
		}
	})
	s.MustMember(t, "first", "")
	p := s.NewClient(t).Post("/signup", url.Values{"handle": {"second"}, "email": {"second@example.org"}, "new_password": {testPassword}}).
		MustStatus(http.StatusTooManyRequests)
	p.MustFormError("Too many sign-ups from this address; try again later.")
	if ra := p.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q for a wait of 0.4 s, want 1", ra)
	}
}

func TestSignin(t *testing.T) {
	perAccount := ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 3})
	s := MustSite(t, func(o *sitetest.Options) {
		o.SignIn = func(c *signin.Config) { c.PerAccount = perAccount }
	})
	s.MustMember(t, "alice", "Alice")
	for _, tc := range []struct {
		name, next, want string
	}{
		{"to messages", "", "/messages"},
		{"back where asked", "/friends", "/friends"},
		{"never elsewhere", "//evil.example/", "/messages"},
		{"nor by scheme", "https://evil.example/", "/messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.NewClient(t)
			c.Post("/signin", url.Values{"handle": {"Alice"}, "password": {testPassword}, "next": {tc.next}}).MustRedirect(tc.want)
			c.Get("/messages").MustStatus(http.StatusOK)
		})
	}
	t.Run("next kept in the form", func(t *testing.T) {
		c := s.NewClient(t)
		c.Get("/signin?next=%2Ffriends").MustStatus(http.StatusOK).MustContain(`name="next" value="/friends"`)
		c.Get("/signin?next=https%3A%2F%2Fevil.example").MustNotContain("evil.example")
	})
	t.Run("wrong password, then rate limited", func(t *testing.T) {
		c := s.NewClient(t)
		for range 3 {
			c.Post("/signin", url.Values{"handle": {"alice"}, "password": {"wrong password!"}}).
				MustStatus(http.StatusUnauthorized).MustFieldError("password", "Wrong handle or password.").MustContain(`value="alice"`)
		}
		p := c.Post("/signin", url.Values{"handle": {"alice"}, "password": {testPassword}}).MustStatus(http.StatusTooManyRequests)
		p.MustFormError("Too many failed password attempts for this account; try again later.")
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
	t.Run("empty", func(t *testing.T) {
		s.NewClient(t).Post("/signin", url.Values{"handle": {"alice"}}).MustStatus(http.StatusBadRequest).MustFormError("Handle and password are required.")
	})
}

func TestSignout(t *testing.T) {
	s := MustSite(t)
	c := s.MustMember(t, "alice", "Alice")
	c.PostRaw("/signout", url.Values{}).MustStatus(http.StatusForbidden)
	c.Get("/messages").MustStatus(http.StatusOK)
	c.Post("/signout", nil).MustRedirect("/")
	c.Get("/messages").MustRedirect("/signin?next=%2Fmessages")
}

func TestPagesNeedSignIn(t *testing.T) {
	s := MustSite(t)
	c := s.NewClient(t)
	for _, path := range []string{"/friends", "/messages", "/messages/1"} {
		c.Get(path).MustRedirect("/signin?next=" + url.QueryEscape(path))
	}
	c.Post("/friends", url.Values{"handle": {"bob"}}).MustRedirect("/signin?next=%2Fmessages")
}
