package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// CookieName is the session cookie's name, the same on every door.
const CookieName = "glasshouse_session"

// tokenLen is the length of a session token: 32 random bytes in unpadded
// base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// newToken returns 32 random bytes in unpadded base64url.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the store keeps of a token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var (
	errSignIn    = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Sign in first.")
	errBadToken  = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "The session token is not valid.")
	errNoSession = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Sign in first: send Authorization: Bearer <token> or the session cookie.")
	errBadScheme = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "The Authorization header must be \"Bearer <token>\".")
)

// SetCookie sets the session cookie of a session Login opened, for as long
// as the session lasts.
func (s *Service) SetCookie(w http.ResponseWriter, r *http.Request, token string, sess *glasshouse.Session) {
	s.setCookie(w, r, CookieName, token, int(sess.ExpiresAt.Sub(s.now()).Seconds()))
}

func (s *Service) clearCookie(w http.ResponseWriter, r *http.Request) {
	s.setCookie(w, r, CookieName, "", -1)
}

// requestToken returns the session token of a request to the member API:
// the bearer token of its Authorization header, else its session cookie.
// EUNAUTHORIZED, saying what is wrong, when it has neither or a token of
// the wrong shape.
func requestToken(r *http.Request) (string, error) {
	var token string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, t, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", errBadScheme
		}
		token = strings.TrimSpace(t)
	} else if c, err := r.Cookie(CookieName); err == nil {
		token = c.Value
	} else {
		return "", errNoSession
	}
	if len(token) != tokenLen {
		return "", errBadToken
	}
	return token, nil
}

// FromRequest returns the session of a request to the member API: that of
// its bearer token (Authorization: Bearer), else of its session cookie.
// EUNAUTHORIZED when it has none, or the session ended or expired.
func (s *Service) FromRequest(r *http.Request) (*glasshouse.Session, error) {
	token, err := requestToken(r)
	if err != nil {
		return nil, err
	}
	return s.Lookup(r.Context(), hashToken(token))
}

// FromCookie returns the session of a page's request: that of its session
// cookie only (a page never reads the Authorization header, which a proxy
// in front may use for its own sign-in). EUNAUTHORIZED when it has none,
// or the session ended or expired.
func (s *Service) FromCookie(r *http.Request) (*glasshouse.Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) != tokenLen {
		return nil, errSignIn
	}
	return s.Lookup(r.Context(), hashToken(c.Value))
}

// Lookup returns the session whose token hashes to tokenHash while it
// lasts; EUNAUTHORIZED once it ended or expired.
func (s *Service) Lookup(ctx context.Context, tokenHash []byte) (*glasshouse.Session, error) {
	return s.store.SessionByTokenHash(ctx, tokenHash, s.now())
}

// Logout ends the request's session, if it has one (FromRequest's token,
// whether or not it still lasts), and clears the cookie. It returns the
// token hash of the session it ended; nil when the request named none.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request) (tokenHash []byte, err error) {
	token, err := requestToken(r)
	if err != nil {
		s.clearCookie(w, r)
		return nil, nil
	}
	tokenHash = hashToken(token)
	return tokenHash, s.End(w, r, tokenHash)
}

// End ends the session whose token hashes to tokenHash (no error if it is
// gone already) and clears the cookie.
func (s *Service) End(w http.ResponseWriter, r *http.Request, tokenHash []byte) error {
	if err := s.store.DeleteSession(r.Context(), tokenHash); err != nil {
		return err
	}
	s.clearCookie(w, r)
	return nil
}

// EndAll ends every session of memberID and clears the cookie.
func (s *Service) EndAll(w http.ResponseWriter, r *http.Request, memberID int64) error {
	if err := s.store.DeleteMemberSessions(r.Context(), memberID); err != nil {
		return err
	}
	s.clearCookie(w, r)
	return nil
}
