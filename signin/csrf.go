package signin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"

	"github.com/glasshouse/glasshouse"
)

// The CSRF cookie's names: with secure cookies it takes the __Host-
// prefix, which browsers accept only from this very host, over HTTPS, for
// the whole site, so that no sibling subdomain can plant one.
const (
	csrfCookie       = "glasshouse_csrf"
	secureCSRFCookie = "__Host-glasshouse_csrf"
)

// maxFormBytes bounds a submitted form.
const maxFormBytes = 64 << 10

// ErrCSRF is returned by ParseForm when the form's token does not match.
var ErrCSRF = glasshouse.Errorf(glasshouse.EFORBIDDEN, "This form has expired or came from another site. Reload the page and try again.")

var errFormBroken = glasshouse.Errorf(glasshouse.EINVALID, "The form could not be read.")

// CSRFToken returns the token for the request's forms: a MAC of the
// browser's CSRF cookie (which it sets when missing), of the session
// cookie the request carries, if any, and of binding, what else the form
// is good for only (the OAuth pages name their purpose and their
// authorization request; the member pages name nothing). Another site can
// neither read the cookie nor forge the MAC; a token is good only with
// the session it was made for, so that a cookie planted before sign-in
// yields nothing after it, and signing out ends every form; and a token
// made for one binding passes for no other.
func (s *Service) CSRFToken(w http.ResponseWriter, r *http.Request, binding ...string) string {
	name := s.csrfCookieName(r)
	v := ""
	if c, err := r.Cookie(name); err == nil && len(c.Value) == tokenLen {
		v = c.Value
	} else {
		v = newToken()
		s.setCookie(w, r, name, v, 0)
		// The request goes on with the new cookie, so that a token made
		// twice in one response matches.
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	return s.csrfMAC(v, sessionCookie(r), binding)
}

// ParseForm reads a POSTed form (at most 64 KiB) and checks its "csrf"
// token against the browser's CSRF cookie, the request's session cookie
// and binding, as CSRFToken made it: EINVALID when the form cannot be
// read, ErrCSRF when the token does not match.
func (s *Service) ParseForm(w http.ResponseWriter, r *http.Request, binding ...string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return errFormBroken
	}
	c, err := r.Cookie(s.csrfCookieName(r))
	if err != nil || len(c.Value) != tokenLen ||
		!hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrfMAC(c.Value, sessionCookie(r), binding))) {
		return ErrCSRF
	}
	return nil
}

func (s *Service) csrfCookieName(r *http.Request) string {
	if s.secureFor(r) {
		return secureCSRFCookie
	}
	return csrfCookie
}

// sessionCookie returns the request's session cookie, or "".
func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// csrfMAC is the token of a CSRF cookie (tokenLen characters), a session
// cookie and a binding. The label is the one the member pages' tokens had
// before the OAuth pages shared the scheme, and the binding's parts are
// length-prefixed after the fixed-size fields, so that the pages' tokens
// (no binding) stayed the same across that change.
func (s *Service) csrfMAC(cookie, session string, binding []string) string {
	h := sha256.Sum256([]byte(session))
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("glasshouse/ui/csrf/v2\x00" + cookie + "\x00"))
	m.Write(h[:])
	for _, part := range binding {
		binary.Write(m, binary.BigEndian, uint32(len(part)))
		m.Write([]byte(part))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
