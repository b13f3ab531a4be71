package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is op.Storage on the Server's store. The op leaves most rules to
// its storage (see the package doc); they are enforced here.
type storage struct{ s *Server }

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

// Limits on what a partner may store with a request.
const (
	maxStateLen = 512
	maxNonceLen = 512
)

// CreateAuthRequest stores a request that passed the op's checks (client,
// exact redirect URI, response type) after the checks the op does not make:
// PKCE with S256, query response mode, prompt=none alone, and the scopes cut
// down to those the partner may be granted.
func (st *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s := st.s
	now := s.now()
	switch {
	case req.ResponseType != oidc.ResponseTypeCode:
		return nil, &oidc.Error{ErrorType: "unsupported_response_type", Description: "Only response_type=code is supported."}
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("Only response_mode=query is supported.")
	case req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 || !validChallenge(req.CodeChallenge):
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send a code_challenge with code_challenge_method=S256.")
	case len(req.State) > maxStateLen || len(req.Nonce) > maxNonceLen:
		return nil, oidc.ErrInvalidRequest().WithDescription("state and nonce must be at most 512 bytes each.")
	case slices.Contains(req.Prompt, oidc.PromptNone) && len(req.Prompt) > 1:
		return nil, oidc.ErrInvalidRequest().WithDescription("prompt=none cannot be combined with another prompt value.")
	}
	c, err := s.client(ctx, req.ClientID, now)
	if err != nil {
		return nil, clientError(err)
	}
	scopes := narrow(req.Scopes, c.grantable)
	if !slices.Contains(scopes, glasshouse.ScopeOpenID) && len(dataScopes(scopes)) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("None of the requested scopes can be granted to this app.")
	}
	ar := &glasshouse.AuthRequest{
		ID:                  "ar_" + randomString(24),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		RequestedScopes:     scopes,
		Prompt:              req.Prompt,
		LoginHint:           req.LoginHint,
		CreatedAt:           now,
		ExpiresAt:           now.Add(glasshouse.AuthRequestLifetime),
	}
	if req.MaxAge != nil {
		d := time.Duration(*req.MaxAge) * time.Second
		ar.MaxAge = &d
	}
	if err := s.store.CreateAuthRequest(ctx, ar); err != nil {
		return nil, fmt.Errorf("create auth request: %w", err)
	}
	return &authRequest{r: ar}, nil
}

// validChallenge reports whether c can be an S256 code challenge: the
// unpadded base64url of a SHA-256 (RFC 7636 §4.2).
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == 32
}

// opRequest returns r as op.AuthRequest, with the member's pairwise
// subject.
func (s *Server) opRequest(r *glasshouse.AuthRequest) *authRequest {
	a := &authRequest{r: r}
	if r.MemberID != 0 {
		a.subject = s.PairwiseID(r.ClientID, r.MemberID)
	}
	return a
}

func (st *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := st.s.store.AuthRequest(ctx, id, st.s.now())
	if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	return st.s.opRequest(r), nil
}

// SaveAuthCode stores the hash of the request's code, valid for
// AuthCodeLifetime. The store refuses a second code for one request.
func (st *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	err := st.s.store.SaveAuthCode(ctx, id, hash(code), st.s.now().Add(glasshouse.AuthCodeLifetime))
	if glasshouse.ErrorCode(err) == glasshouse.ECONFLICT {
		return oidc.ErrInvalidRequest().WithDescription("A code was already issued for this request.")
	} else if err != nil {
		return fmt.Errorf("save auth code: %w", err)
	}
	return nil
}

// AuthRequestByCode looks a code up without using it. The op calls it
// first in the token exchange, then checks PKCE, authenticates the client
// and compares its id and redirect URI with the request's; the code is
// consumed only after all of that, when the tokens are issued
// (issueFromCode). So a stolen code presented with a wrong secret or
// without the verifier does not burn it (RFC 6749 §4.1.3), and only a
// replay by the client that owns the code revokes its tokens.
func (st *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := st.s.store.AuthRequestByCode(ctx, hash(code), st.s.now())
	if err != nil {
		return nil, fmt.Errorf("code: %w", err)
	}
	if !r.Done || r.MemberID == 0 {
		return nil, errors.New("code of an unfinished request")
	}
	return st.s.opRequest(r), nil
}

// DeleteAuthRequest keeps the request: its spent code must stay
// recognisable as spent, so that a replay revokes its tokens. The store
// purges old requests.
func (st *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken issues an access token for a code exchange without
// offline_access.
func (st *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	ar, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	id, _, exp, err := st.issueFromCode(ctx, ar, false)
	return id, exp, err
}

// CreateAccessAndRefreshTokens issues an access and a refresh token: a new
// family for a code exchange, or the next pair of a family for a refresh,
// in which case the store marks the presented refresh token used in the
// same transaction, and revokes the family if it was used before.
func (st *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		return st.issueFromCode(ctx, r, true)
	case *refreshRequest:
		return st.issueFromRefresh(ctx, r)
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// issueFromCode consumes the code of ar, whose client is authenticated and
// whose PKCE verifier matched, and issues its tokens. A code used before
// is a replay by its own client: the store revokes every token issued from
// it, and the exchange fails.
func (st *storage) issueFromCode(ctx context.Context, ar *authRequest, withRefresh bool) (string, string, time.Time, error) {
	now := st.s.now()
	if _, err := st.s.store.ConsumeAuthCode(ctx, ar.r.CodeHash, now); glasshouse.ErrorCode(err) == glasshouse.ECONFLICT {
		st.s.log.WarnContext(ctx, "authorization code reused: its tokens are revoked", "client_id", ar.r.ClientID)
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("The code was already used; every token issued with it is revoked.")
	} else if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("The code has expired.")
	} else if err != nil {
		return "", "", time.Time{}, fmt.Errorf("consume code: %w", err)
	}
	sd, err := st.s.standing(ctx, ar.r.ClientID, ar.r.MemberID, now)
	if err != nil {
		return "", "", time.Time{}, grantError(err)
	}
	scopes := narrow(ar.GetScopes(), sd.scopes)
	base := glasshouse.Token{
		FamilyID:      "fam_" + randomString(16),
		AuthRequestID: ar.r.ID,
		PartnerID:     sd.partner.ID,
		ClientID:      ar.r.ClientID,
		MemberID:      ar.r.MemberID,
		Subject:       ar.subject,
		AuthTime:      ar.r.AuthTime,
	}
	return st.issue(ctx, base, scopes, scopes, withRefresh, "", sd.grant.ExpiresAt, now)
}

func (st *storage) issueFromRefresh(ctx context.Context, r *refreshRequest) (string, string, time.Time, error) {
	base := *r.token
	base.Scopes, base.RevokedAt, base.UsedAt = nil, time.Time{}, time.Time{}
	accessID, refresh, exp, err := st.issue(ctx, base, r.GetScopes(), r.scopes, true, r.token.ID, r.grantExpires, st.s.now())
	if glasshouse.ErrorCode(err) == glasshouse.ECONFLICT {
		st.s.log.WarnContext(ctx, "refresh token replayed: its family is revoked", "client_id", r.token.ClientID, "family", r.token.FamilyID)
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("The refresh token was already used; every token of this grant is revoked.")
	}
	return accessID, refresh, exp, err
}

// issue stores a new access token with accessScopes, and with withRefresh
// a refresh token with refreshScopes, both of base's family, member and
// partner, neither outliving the grant (grantEnd). spent names the refresh
// token being exchanged, if any.
func (st *storage) issue(ctx context.Context, base glasshouse.Token, accessScopes, refreshScopes []string, withRefresh bool, spent string, grantEnd, now time.Time) (accessID, refreshValue string, exp time.Time, err error) {
	access := base
	access.ID = "at_" + randomString(24)
	access.Kind = glasshouse.AccessToken
	access.Scopes = accessScopes
	access.CreatedAt = now
	access.ExpiresAt = earliest(now.Add(glasshouse.AccessTokenLifetime), grantEnd)
	var refresh *glasshouse.Token
	if withRefresh {
		refresh = &glasshouse.Token{}
		*refresh = base
		// The value is a separate random secret; the store keeps only
		// its hash, so a database read does not yield usable tokens.
		refreshValue = randomString(32)
		refresh.SecretHash = hash(refreshValue)
		refresh.ID = "rt_" + randomString(16)
		refresh.Kind = glasshouse.RefreshToken
		refresh.Scopes = refreshScopes
		refresh.CreatedAt = now
		refresh.ExpiresAt = earliest(now.Add(glasshouse.RefreshTokenLifetime), grantEnd)
	}
	if err := st.s.store.CreateTokens(ctx, &access, refresh, spent, now); err != nil {
		return "", "", time.Time{}, fmt.Errorf("create tokens: %w", err)
	}
	return access.ID, refreshValue, access.ExpiresAt, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// TokenRequestByRefreshToken looks a refresh token up for the refresh
// grant (after client authentication). A used one is a replay: its whole
// family is revoked. A valid one still needs its partner in force and the
// member's grant live (so an expired grant cannot refresh), and carries on
// only the scopes still in force.
func (st *storage) TokenRequestByRefreshToken(ctx context.Context, value string) (op.RefreshTokenRequest, error) {
	s := st.s
	now := s.now()
	t, err := s.store.RefreshTokenByHash(ctx, hash(value))
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	switch {
	case t.Kind != glasshouse.RefreshToken:
		return nil, errors.New("not a refresh token")
	case !t.UsedAt.IsZero():
		if err := s.store.RevokeToken(ctx, t.ID, now); err != nil {
			return nil, fmt.Errorf("revoke replayed family: %w", err)
		}
		s.log.WarnContext(ctx, "refresh token replayed: its family is revoked", "client_id", t.ClientID, "family", t.FamilyID)
		return nil, errors.New("refresh token replayed")
	case !t.Valid(now):
		return nil, errors.New("refresh token revoked or expired")
	}
	sd, err := s.standing(ctx, t.ClientID, t.MemberID, now)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{token: t, scopes: narrow(t.Scopes, sd.scopes), grantExpires: sd.grant.ExpiresAt}, nil
}

// TerminateSession is the end_session endpoint's hook, which Register
// does not expose.
func (st *storage) TerminateSession(context.Context, string, string) error { return nil }

// GetRefreshTokenInfo tells the revocation endpoint whether token is one
// of our refresh tokens.
func (st *storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	t, err := st.s.store.RefreshTokenByHash(ctx, hash(token))
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return "", "", op.ErrInvalidRefreshToken
	} else if err != nil {
		return "", "", fmt.Errorf("refresh token: %w", err)
	}
	return t.Subject, t.ID, nil
}

// RevokeToken revokes an access token, or a refresh token with its family
// (RFC 7009). Unknown tokens, and tokens of another client, are left alone
// and answered 200 like any other, revealing nothing.
func (st *storage) RevokeToken(ctx context.Context, id, subject, clientID string) *oidc.Error {
	t, err := st.s.store.Token(ctx, id)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil
	} else if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if t.ClientID != clientID || t.Subject != subject {
		return nil
	}
	if err := st.s.store.RevokeToken(ctx, t.ID, st.s.now()); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (st *storage) SigningKey(context.Context) (op.SigningKey, error) { return st.s.keys.signing, nil }

func (st *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (st *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{st.s.keys.signing}}, nil
}

// GetClientByClientID returns an approved partner with an agreement in
// force; every other one is invalid_client. It reads the store every time.
func (st *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := st.s.client(ctx, clientID, st.s.now())
	if err != nil {
		return nil, clientError(err)
	}
	return c, nil
}

// AuthorizeClientIDSecret checks a client's secret, and that the client is
// in force: on the introspection and revocation endpoints it is the only
// client check the op makes.
func (st *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	if _, err := st.GetClientByClientID(ctx, clientID); err != nil {
		return err
	}
	want, err := st.s.store.PartnerSecretHash(ctx, clientID)
	if err != nil {
		return clientError(err)
	}
	if subtle.ConstantTimeCompare(want, HashSecret(secret)) != 1 {
		return oidc.ErrInvalidClient().WithDescription("The client credentials are wrong.")
	}
	return nil
}

// clientError turns a refusal of a client into invalid_client, and any
// other error into server_error.
func clientError(err error) error {
	var ae *AccessError
	switch {
	case errors.As(err, &ae):
		return oidc.ErrInvalidClient().WithDescription("%s", ae.Err.Message)
	case glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND:
		return oidc.ErrInvalidClient().WithDescription("Unknown client.")
	}
	return oidc.ErrServerError().WithParent(err)
}

// grantError turns a refusal of a grant into invalid_grant, and any other
// error into server_error.
func grantError(err error) error {
	var ae *AccessError
	if errors.As(err, &ae) {
		return oidc.ErrInvalidGrant().WithDescription("%s", ae.Err.Message)
	}
	return oidc.ErrServerError().WithParent(err)
}

// SetUserinfoFromScopes is deprecated in the op; SetUserinfoFromRequest
// and SetUserinfoFromToken do the work.
func (st *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims: only the
// pairwise sub. Profile, email and phone come from the Graph API's /me.
func (st *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	info.Subject = req.GetSubject()
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint: the pairwise sub,
// for a valid access token with openid (see Claims).
func (st *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	a, err := st.s.authenticate(ctx, tokenID, subject)
	if err != nil {
		return userinfoError(err)
	}
	if !slices.Contains(a.Token.Scopes, glasshouse.ScopeOpenID) {
		return &oidc.Error{ErrorType: "insufficient_scope", Description: "The userinfo endpoint needs a token with the openid scope."}
	}
	*info = Claims(a)
	return nil
}

func userinfoError(err error) error {
	var ae *AccessError
	if !errors.As(err, &ae) {
		return oidc.ErrServerError().WithParent(err)
	}
	if ae.Err.Code == glasshouse.EFORBIDDEN {
		return oidc.ErrAccessDenied().WithDescription("%s", ae.Err.Message)
	}
	return &oidc.Error{ErrorType: "invalid_token", Description: ae.Err.Message}
}

// SetIntrospectionFromToken answers introspection (RFC 7662) for the
// client's own valid access tokens; any error makes the op answer
// {"active": false}.
func (st *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	a, err := st.s.authenticate(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	t := a.Token
	if t.ClientID != clientID {
		return errors.New("token of another client")
	}
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.Subject = t.Subject
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	resp.AuthTime = oidc.FromTime(t.AuthTime)
	resp.Audience = oidc.Audience{t.ClientID}
	resp.Issuer = st.s.issuer
	return nil
}

func (st *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID refuses every key: clients authenticate with their
// secret, so JWT client assertions and the JWT bearer grant (which the op
// cannot turn off) always fail.
func (st *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT client authentication is not supported")
}

func (st *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrAccessDenied().WithDescription("The JWT bearer grant is not supported.")
}

func (st *storage) Health(ctx context.Context) error { return st.s.store.Ping(ctx) }
