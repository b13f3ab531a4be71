package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Reasons an access token or a partner is refused. The Graph API sends the
// reason as the "error" of its JSON body, with the status of the error's
// code (EUNAUTHORIZED 401, EFORBIDDEN 403).
const (
	ReasonInvalidToken       = "invalid_token"       // unknown, malformed, expired or revoked token (401)
	ReasonAgreementSuspended = "agreement_suspended" // the operator suspended the partner (403)
	ReasonAgreementExpired   = "agreement_expired"   // no approved agreement in force (403)
	ReasonConsentRequired    = "consent_required"    // the member's grant is gone or expired (403)
)

// AccessError is a refusal with its reason. It unwraps to its
// *glasshouse.Error, so glasshouse.ErrorCode and ErrorMessage work on it.
type AccessError struct {
	Reason string
	Err    *glasshouse.Error
}

func (e *AccessError) Error() string { return e.Reason + ": " + e.Err.Message }
func (e *AccessError) Unwrap() error { return e.Err }

// Reason returns the reason of err's AccessError, or "" if it has none.
func Reason(err error) string {
	var e *AccessError
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(reason, code, format string, args ...any) *AccessError {
	return &AccessError{Reason: reason, Err: glasshouse.Errorf(code, format, args...)}
}

// Access is what a valid access token lets its partner do, as of the check.
type Access struct {
	// Token is the access token, its Scopes narrowed to those still in
	// force: the token's scopes ∩ the member's grant ∩ the current
	// agreement ∩ the platform ceiling (plus openid and offline_access
	// when the token has them).
	Token     *glasshouse.Token
	Partner   *glasshouse.Partner
	Agreement *glasshouse.Agreement // the partner's current approved agreement
	Grant     *glasshouse.Grant     // the member's live grant to the partner
}

// maxBearerLen bounds the tokens Authenticate tries to decrypt; ours are
// about 200 bytes.
const maxBearerLen = 2048

// Authenticate checks a bearer access token for the Graph API: it decrypts
// it, loads its row, and requires it unrevoked and unexpired, its partner
// approved with an agreement in force, and the member's grant live. Every
// check reads the store, so a revocation, a suspension or a withdrawn
// consent counts from the next request.
//
// Errors are *AccessError: EUNAUTHORIZED with ReasonInvalidToken, or
// EFORBIDDEN with ReasonAgreementSuspended, ReasonAgreementExpired or
// ReasonConsentRequired; anything else is an internal error.
func (s *Server) Authenticate(ctx context.Context, bearer string) (*Access, error) {
	if bearer == "" || len(bearer) > maxBearerLen {
		return nil, errInvalidToken
	}
	plain, err := s.crypto.Decrypt(bearer)
	if err != nil {
		return nil, errInvalidToken
	}
	id, subject, ok := strings.Cut(plain, ":")
	if !ok {
		return nil, errInvalidToken
	}
	return s.authenticate(ctx, id, subject)
}

// VerifyAccessToken is Authenticate for callers that need only the token
// (its Scopes narrowed to those in force) and its partner.
func (s *Server) VerifyAccessToken(ctx context.Context, bearer string) (*glasshouse.Token, *glasshouse.Partner, error) {
	a, err := s.Authenticate(ctx, bearer)
	if err != nil {
		return nil, nil, err
	}
	return a.Token, a.Partner, nil
}

var errInvalidToken = refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "The access token is not valid.")

// authenticate checks the access token with the given id, sealed for
// subject (the op's opaque token is "id:subject").
func (s *Server) authenticate(ctx context.Context, id, subject string) (*Access, error) {
	t, err := s.store.Token(ctx, id)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, errInvalidToken
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	switch {
	case t.Kind != glasshouse.AccessToken || t.Subject != subject:
		return nil, errInvalidToken
	case !t.RevokedAt.IsZero():
		return nil, refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "The access token was revoked.")
	case !now.Before(t.ExpiresAt):
		return nil, refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "The access token has expired.")
	}
	st, err := s.standing(ctx, t.ClientID, t.MemberID, now)
	if err != nil {
		return nil, err
	}
	t.Scopes = narrow(t.Scopes, st.scopes)
	return &Access{Token: t, Partner: st.partner, Agreement: st.agreement, Grant: st.grant}, nil
}

// standing is where a partner stands with one member at one moment.
type standing struct {
	partner   *glasshouse.Partner
	agreement *glasshouse.Agreement
	grant     *glasshouse.Grant
	scopes    []string // data scopes in force: the grant's ∩ grantable
}

// standing loads the partner with clientID in force and memberID's live
// grant to it. Errors are *AccessError or internal.
func (s *Server) standing(ctx context.Context, clientID string, memberID int64, now time.Time) (*standing, error) {
	c, err := s.client(ctx, clientID, now)
	if err != nil {
		return nil, err
	}
	g, err := s.store.Grant(ctx, memberID, c.partner.ID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, refuse(ReasonConsentRequired, glasshouse.EFORBIDDEN, "The member has not granted %s access, or revoked it.", c.partner.Name)
	} else if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	if !g.Live(now) {
		return nil, refuse(ReasonConsentRequired, glasshouse.EFORBIDDEN, "The member's consent to %s has expired; they must connect the app again.", c.partner.Name)
	}
	return &standing{partner: c.partner, agreement: c.agreement, grant: g, scopes: intersect(g.Scopes, c.grantable)}, nil
}

// client loads the partner with clientID and its current agreement,
// refusing a partner that is not approved or has no agreement in force. It
// reads the store on every call, without cache. Errors are *AccessError
// (EUNAUTHORIZED for an unknown client) or internal.
func (s *Server) client(ctx context.Context, clientID string, now time.Time) (*client, error) {
	p, err := s.store.PartnerByClientID(ctx, clientID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "Unknown client.")
	} else if err != nil {
		return nil, fmt.Errorf("partner: %w", err)
	}
	switch p.Status {
	case glasshouse.PartnerApproved:
	case glasshouse.PartnerSuspended:
		return nil, refuse(ReasonAgreementSuspended, glasshouse.EFORBIDDEN, "The agreement of %s is suspended.", p.Name)
	default:
		return nil, refuse(ReasonAgreementExpired, glasshouse.EFORBIDDEN, "The agreement of %s is not approved.", p.Name)
	}
	a, err := s.store.CurrentAgreement(ctx, p.ID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, refuse(ReasonAgreementExpired, glasshouse.EFORBIDDEN, "%s has no approved agreement.", p.Name)
	} else if err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	if !now.Before(a.ExpiresAt) {
		return nil, refuse(ReasonAgreementExpired, glasshouse.EFORBIDDEN, "The agreement of %s has expired.", p.Name)
	}
	return &client{partner: p, agreement: a, grantable: grantable(s.ceiling, a, now)}, nil
}
