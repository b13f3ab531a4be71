package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Reasons an access token or a partner is refused. The Graph API sends the
// reason as the "error" of its JSON body, with the status of the error's
// code (EUNAUTHORIZED 401, EFORBIDDEN 403).
const (
	ReasonInvalidToken         = "invalid_token"          // unknown, malformed, expired or revoked token (401)
	ReasonAgreementSuspended   = "agreement_suspended"    // the operator suspended the partner (403)
	ReasonAgreementNotApproved = "agreement_not_approved" // the partner is pending, or has no approved agreement (403)
	ReasonAgreementExpired     = "agreement_expired"      // the partner's current agreement has expired (403)
	ReasonConsentRequired      = "consent_required"       // the member's grant is gone or expired (403)
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
//
// When Authenticate refuses a token that it found (revoked, expired, or its
// partner or the member's consent not in force), it returns an Access
// beside the error, with Token and Partner (and Agreement when there is one)
// as loaded, so that the refusal can be recorded; Token.Scopes then holds no
// data scope, and Grant is nil.
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
// it, loads its row with its partner, the partner's current agreement and
// the member's grant (one store call), and requires the token unrevoked and
// unexpired, its partner approved with an agreement in force, and the
// member's grant live. Every check reads the store, so a revocation, a
// suspension or a withdrawn consent counts from the next request.
//
// Errors are *AccessError: EUNAUTHORIZED with ReasonInvalidToken, or
// EFORBIDDEN with ReasonAgreementSuspended, ReasonAgreementNotApproved,
// ReasonAgreementExpired or ReasonConsentRequired; anything else is an
// internal error. A refusal of a token that was found also returns its
// Access (see Access).
func (s *Server) Authenticate(ctx context.Context, bearer string) (*Access, error) {
	if bearer == "" || len(bearer) > maxBearerLen {
		return nil, errInvalidToken
	}
	plain, ok := s.bearers.get(bearer)
	if !ok {
		var err error
		if plain, err = s.crypto.Decrypt(bearer); err != nil {
			return s.notAnAccessToken(ctx, bearer)
		}
		s.bearers.put(bearer, plain)
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

// notAnAccessToken refuses a bearer that is not one of this server's
// access tokens. A refresh token or an ID token sent as a bearer still
// names its partner and member, so it is refused with their Access: the
// Graph API records the attempt for the member, as any other refused call.
// Anything else is refused without one.
func (s *Server) notAnAccessToken(ctx context.Context, bearer string) (*Access, error) {
	var t *glasshouse.Token
	var err error
	what := "a refresh token: exchange it for an access token at the token endpoint"
	if clientID, subject, ok := s.idTokenParties(bearer); ok {
		t, err = s.store.TokenBySubject(ctx, clientID, subject)
		what = "an ID token, which says who the member is: send the access token"
	} else {
		t, err = s.store.RefreshTokenByHash(ctx, hash(bearer))
	}
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, errInvalidToken
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	ta, err := s.store.AccessByTokenID(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	ta.Token.Scopes = narrow(ta.Token.Scopes, nil)
	return &Access{Token: ta.Token, Partner: ta.Partner, Agreement: ta.Agreement},
		refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "This is %s.", what)
}

// idTokenParties returns the client and the subject of bearer if it is an
// ID token that this server signed (expired or not: it still names them).
func (s *Server) idTokenParties(bearer string) (clientID, subject string, ok bool) {
	if strings.Count(bearer, ".") != 2 {
		return "", "", false
	}
	jws, err := jose.ParseSigned(bearer, []jose.SignatureAlgorithm{s.keys.signing.SignatureAlgorithm()})
	if err != nil {
		return "", "", false
	}
	payload, err := jws.Verify(&s.keys.signing.priv.PublicKey)
	if err != nil {
		return "", "", false
	}
	var claims struct {
		Issuer   string        `json:"iss"`
		Subject  string        `json:"sub"`
		Audience oidc.Audience `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Issuer != s.issuer || len(claims.Audience) != 1 || claims.Subject == "" {
		return "", "", false
	}
	return claims.Audience[0], claims.Subject, true
}

// authenticate checks the access token with the given id, sealed for
// subject (the op's opaque token is "id:subject").
func (s *Server) authenticate(ctx context.Context, id, subject string) (*Access, error) {
	ta, err := s.store.AccessByTokenID(ctx, id)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, errInvalidToken
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	t := ta.Token
	if t.Kind != glasshouse.AccessToken || t.Subject != subject {
		return nil, errInvalidToken
	}
	now := s.now()
	refused := func(err error) (*Access, error) {
		t.Scopes = narrow(t.Scopes, nil)
		return &Access{Token: t, Partner: ta.Partner, Agreement: ta.Agreement}, err
	}
	switch {
	case !t.RevokedAt.IsZero():
		return refused(refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "The access token was revoked."))
	case !now.Before(t.ExpiresAt):
		return refused(refuse(ReasonInvalidToken, glasshouse.EUNAUTHORIZED, "The access token has expired."))
	}
	c, err := s.inForce(ta.Partner, ta.Agreement, now)
	if err != nil {
		return refused(err)
	}
	st, err := c.standing(ta.Grant, now)
	if err != nil {
		return refused(err)
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
		g = nil
	} else if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	return c.standing(g, now)
}

// standing checks the member's grant g (nil if none) to c's partner: it
// must be live. Errors are *AccessError.
func (c *client) standing(g *glasshouse.Grant, now time.Time) (*standing, error) {
	if g == nil {
		return nil, refuse(ReasonConsentRequired, glasshouse.EFORBIDDEN, "The member has not granted %s access, or revoked it.", c.partner.Name)
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
	var a *glasshouse.Agreement
	if p.Status == glasshouse.PartnerApproved {
		a, err = s.store.CurrentAgreement(ctx, p.ID)
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			a = nil
		} else if err != nil {
			return nil, fmt.Errorf("agreement: %w", err)
		}
	}
	return s.inForce(p, a, now)
}

// inForce checks partner p and its current approved agreement a (nil if
// none): p must be approved and a in force at now. Errors are
// *AccessError.
func (s *Server) inForce(p *glasshouse.Partner, a *glasshouse.Agreement, now time.Time) (*client, error) {
	switch p.Status {
	case glasshouse.PartnerApproved:
	case glasshouse.PartnerSuspended:
		return nil, refuse(ReasonAgreementSuspended, glasshouse.EFORBIDDEN, "The agreement of %s is suspended.", p.Name)
	default:
		return nil, refuse(ReasonAgreementNotApproved, glasshouse.EFORBIDDEN, "The agreement of %s is not approved.", p.Name)
	}
	if a == nil || a.ApprovedAt.IsZero() {
		return nil, refuse(ReasonAgreementNotApproved, glasshouse.EFORBIDDEN, "%s has no approved agreement.", p.Name)
	}
	if !now.Before(a.ExpiresAt) {
		return nil, refuse(ReasonAgreementExpired, glasshouse.EFORBIDDEN, "The agreement of %s has expired.", p.Name)
	}
	return &client{partner: p, agreement: a, grantable: grantable(s.ceiling, a, now)}, nil
}

// bearerCache remembers what bearer tokens decrypt to: decryption is pure,
// and costs about as much as the store read that follows it. It holds only
// tokens that decrypted (so only tokens this server sealed), at most
// maxBearers of them; it decides nothing, for every check still reads the
// store. Its zero value is ready to use.
type bearerCache struct {
	mu sync.Mutex
	m  map[string]string // bearer -> plaintext
}

// maxBearers bounds a bearerCache: about 2 MiB of tokens.
const maxBearers = 8192

func (c *bearerCache) get(bearer string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	plain, ok := c.m[bearer]
	return plain, ok
}

// put remembers bearer's plaintext, emptying the cache first when full.
func (c *bearerCache) put(bearer, plain string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxBearers {
		c.m = make(map[string]string)
	}
	c.m[bearer] = plain
}
