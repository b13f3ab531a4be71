package web

import (
	"context"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/password"
)

// caller is the signed-in member making a request.
type caller struct {
	memberID  int64
	tokenHash []byte // of the session the request came with
}

// authenticated resolves the request's session (signin.Service's
// FromRequest: a bearer token in the Authorization header, or else the
// session cookie) before calling h.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, caller) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		sess, err := s.signIn.FromRequest(r)
		if err != nil {
			return err
		}
		return h(w, r, caller{memberID: sess.MemberID, tokenHash: sess.TokenHash})
	}
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

// login checks a handle and password and opens a session (signin.Service's
// Login), with its cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in loginRequest
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	token, sess, err := s.signIn.Login(r.Context(), in.Handle, in.Password, clientip.Of(r))
	if err != nil {
		return err
	}
	m, err := s.store.MemberByID(r.Context(), sess.MemberID)
	if err != nil {
		return err
	}
	s.signIn.SetCookie(w, r, token, sess)
	return httpio.WriteJSON(w, http.StatusCreated, loginResponse{Token: token, ExpiresAt: sess.ExpiresAt, Member: m})
}

// Logout ends the request's session, if it has one, closes that session's
// streams and clears the cookie. The member pages share it with the API.
func (s *Server) Logout(w http.ResponseWriter, r *http.Request) error {
	tokenHash, err := s.signIn.Logout(w, r)
	if err != nil || tokenHash == nil {
		return err
	}
	s.endSessions(glasshouse.SessionsEnded{TokenHash: tokenHash})
	return nil
}

// logout ends the request's session and its streams.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.signIn.End(w, r, c.tokenHash); err != nil {
		return err
	}
	s.endSessions(glasshouse.SessionsEnded{MemberID: c.memberID, TokenHash: c.tokenHash})
	return noContent(w)
}

// logoutEverywhere ends every session of the member, and their streams.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.signIn.EndAll(w, r, c.memberID); err != nil {
		return err
	}
	s.endSessions(glasshouse.SessionsEnded{MemberID: c.memberID})
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
	_, err = s.signIn.CheckPassword(r.Context(), me.Handle, in.Current, clientip.Of(r))
	if glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
		return glasshouse.Errorf(glasshouse.EFORBIDDEN, "The current password is wrong.")
	} else if err != nil {
		return err
	}
	if err := s.store.SetPassword(r.Context(), c.memberID, password.Hash(in.New), c.tokenHash); err != nil {
		return err
	}
	s.endSessions(glasshouse.SessionsEnded{MemberID: c.memberID, Except: c.tokenHash})
	return noContent(w)
}
