package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/ratelimit"
)

// CookieName is the name of the session cookie.
const CookieName = "glasshouse_session"

// tokenLen is the length of a session token: 32 random bytes in unpadded
// base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// dummyHash is verified when a login names an unknown handle, so that the
// answer takes as long as for a known one. It is the hash of 32 random
// bytes that were thrown away, and login refuses it even if one matched.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$ZUdKSFR6T2htU2pPRnUwdw$1oWUT89+jG9aG6zGjhbTHnL3WDaszjuwaRJ6tPUYgs4"

var errBadLogin = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Wrong handle or password.")

// caller is the signed-in member making a request.
type caller struct {
	memberID  int64
	tokenHash []byte // of the session the request came with
}

// authenticated resolves the request's session before calling h: a bearer
// token in the Authorization header, or else the session cookie.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, caller) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, err := sessionToken(r)
		if err != nil {
			return err
		}
		hash := hashToken(token)
		sess, err := s.store.SessionByTokenHash(r.Context(), hash, s.now())
		if err != nil {
			return err
		}
		return h(w, r, caller{memberID: sess.MemberID, tokenHash: hash})
	}
}

func sessionToken(r *http.Request) (string, error) {
	var token string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, t, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "The Authorization header must be \"Bearer <token>\".")
		}
		token = strings.TrimSpace(t)
	} else if c, err := r.Cookie(CookieName); err == nil {
		token = c.Value
	} else {
		return "", glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Sign in first: send Authorization: Bearer <token> or the session cookie.")
	}
	if len(token) != tokenLen {
		return "", glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "The session token is not valid.")
	}
	return token, nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// signup creates a member. The client signs in next with POST /sessions.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	var in glasshouse.Signup
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	m, err := s.Signup(r.Context(), in, clientip.Of(r))
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusCreated, m)
}

// Signup validates a sign-up and creates the member, within the limit of
// sign-ups per address ip. The member pages share it with the API.
func (s *Server) Signup(ctx context.Context, in glasshouse.Signup, ip string) (*glasshouse.Member, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	// Each sign-up costs an argon2id hash: limit them per address.
	if ok, after := s.signups.Allow(ip); !ok {
		return nil, &httpio.RetryError{Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "Too many sign-ups from this address; try again later."), After: after}
	}
	m := &glasshouse.Member{Handle: in.Handle, Email: in.Email, DisplayName: in.DisplayName, Visibility: glasshouse.DefaultVisibility}
	if err := s.store.CreateMember(ctx, m, password.Hash(in.Password)); err != nil {
		return nil, err
	}
	return m, nil
}

type loginRequest struct {
	Handle   string `json:"handle"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string             `json:"token"`
	ExpiresAt time.Time          `json:"expires_at"`
	Member    *glasshouse.Member `json:"member"`
}

// login checks a handle and password and opens a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in loginRequest
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	token, sess, err := s.Login(r.Context(), in.Handle, in.Password, clientip.Of(r))
	if err != nil {
		return err
	}
	m, err := s.store.MemberByID(r.Context(), sess.MemberID)
	if err != nil {
		return err
	}
	s.SetSessionCookie(w, r, token, sess)
	return httpio.WriteJSON(w, http.StatusCreated, loginResponse{Token: token, ExpiresAt: sess.ExpiresAt, Member: m})
}

// Login checks a handle and password and opens a session, returning its
// token. Failed attempts are limited per address ip and per account. The
// member pages share it with the API.
func (s *Server) Login(ctx context.Context, handle, pw, ip string) (token string, sess *glasshouse.Session, err error) {
	handle = strings.ToLower(handle)
	if handle == "" || pw == "" {
		return "", nil, glasshouse.Errorf(glasshouse.EINVALID, "Handle and password are required.")
	}
	done, err := s.attempt(ip, handle)
	if err != nil {
		return "", nil, err
	}
	failed := true
	defer func() { done(failed) }()
	id, hash, err := s.store.PasswordHash(ctx, handle)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		hash = dummyHash
	} else if err != nil {
		return "", nil, err
	}
	if ok, err := password.Verify(pw, hash); err != nil {
		return "", nil, fmt.Errorf("login: stored hash of member %d: %w", id, err)
	} else if !ok || hash == dummyHash {
		return "", nil, errBadLogin
	}
	failed = false

	token = newToken()
	now := s.now()
	sess = &glasshouse.Session{TokenHash: hashToken(token), MemberID: id, CreatedAt: now, ExpiresAt: now.Add(s.sessionTTL)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// SetSessionCookie sets the session cookie of a session Login opened.
func (s *Server) SetSessionCookie(w http.ResponseWriter, r *http.Request, token string, sess *glasshouse.Session) {
	s.setCookie(w, r, token, int(sess.ExpiresAt.Sub(s.now()).Seconds()))
}

// Logout ends the request's session, if it has one, closes that session's
// streams and clears the cookie. The member pages share it with the API.
func (s *Server) Logout(w http.ResponseWriter, r *http.Request) error {
	token, err := sessionToken(r)
	if err != nil {
		s.setCookie(w, r, "", -1)
		return nil
	}
	return s.logoutSession(w, r, hashToken(token))
}

func (s *Server) logoutSession(w http.ResponseWriter, r *http.Request, tokenHash []byte) error {
	if err := s.store.DeleteSession(r.Context(), tokenHash); err != nil {
		return err
	}
	s.endStreams(func(l *liveStream) bool { return bytes.Equal(l.tokenHash, tokenHash) })
	s.setCookie(w, r, "", -1)
	return nil
}

// newToken returns 32 random bytes in unpadded base64url.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// attempt admits a password attempt against the address's and the
// account's limits; the caller calls done with whether the password was
// wrong, so that only failures count, and attempts in flight count until
// then.
func (s *Server) attempt(ip, handle string) (done func(failed bool), err error) {
	var dones []func(bool)
	all := func(failed bool) {
		for _, d := range dones {
			d(failed)
		}
	}
	for _, lim := range []struct {
		l   *ratelimit.Limiter
		key string
		msg string
	}{
		{s.byIP, ip, "Too many failed logins from this address; try again later."},
		{s.byAccount, handle, "Too many failed password attempts for this account; try again later."},
	} {
		d, ok, after := lim.l.Attempt(lim.key)
		if !ok {
			all(false)
			return nil, &httpio.RetryError{Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "%s", lim.msg), After: after}
		}
		dones = append(dones, d)
	}
	return all, nil
}

// setCookie sets the session cookie for maxAge seconds, or clears it when
// maxAge is negative.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureCookies || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

// logout ends the request's session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.logoutSession(w, r, c.tokenHash); err != nil {
		return err
	}
	return noContent(w)
}

// logoutEverywhere ends every session of the member.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.store.DeleteMemberSessions(r.Context(), c.memberID); err != nil {
		return err
	}
	s.endStreams(func(l *liveStream) bool { return l.memberID == c.memberID })
	s.setCookie(w, r, "", -1)
	return noContent(w)
}

type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// changePassword sets a new password after checking the current one, and
// ends every other session of the member.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c caller) error {
	var in passwordChange
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	if err := glasshouse.ValidatePassword(in.New); err != nil {
		return err
	}
	me, err := s.store.MemberByID(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	done, err := s.attempt(clientip.Of(r), me.Handle)
	if err != nil {
		return err
	}
	failed := true
	defer func() { done(failed) }()
	_, hash, err := s.store.PasswordHash(r.Context(), me.Handle)
	if err != nil {
		return err
	}
	if ok, err := password.Verify(in.Current, hash); err != nil {
		return fmt.Errorf("change password: stored hash of member %d: %w", me.ID, err)
	} else if !ok {
		return glasshouse.Errorf(glasshouse.EFORBIDDEN, "The current password is wrong.")
	}
	failed = false
	if err := s.store.SetPassword(r.Context(), c.memberID, password.Hash(in.New), c.tokenHash); err != nil {
		return err
	}
	s.endStreams(func(l *liveStream) bool { return l.memberID == c.memberID && !bytes.Equal(l.tokenHash, c.tokenHash) })
	return noContent(w)
}
