package glasshouse

import (
	"context"
	"time"
)

// Token lifetimes and limits of the authorization server.
const (
	AccessTokenLifetime  = 15 * time.Minute
	RefreshTokenLifetime = 30 * 24 * time.Hour
	AuthCodeLifetime     = 60 * time.Second
	AuthRequestLifetime  = 10 * time.Minute
)

// AuthRequest is an OAuth authorization request between /authorize and the
// token exchange: what the partner asked, then who logged in and what they
// granted. Its code is stored as a hash and is single-use.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	RequestedScopes     []string
	Prompt              []string
	MaxAge              *time.Duration
	LoginHint           string
	CreatedAt           time.Time
	ExpiresAt           time.Time

	// Set when the member logged in and consented.
	MemberID      int64
	AuthTime      time.Time
	GrantedScopes []string // protocol scopes (openid, offline_access) plus the ticked data scopes
	Done          bool

	// Set when the code was issued and exchanged.
	CodeHash      []byte
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time
}

// Token kinds.
const (
	AccessToken  = "access"
	RefreshToken = "refresh"
)

// Token is an issued access or refresh token. The wire value is not stored:
// access tokens are sealed by the authorization server around ID, and a
// refresh token's random value is stored only as SecretHash. Tokens from one
// authorization (and its refreshes) share a FamilyID.
type Token struct {
	ID            string
	Kind          string
	FamilyID      string
	AuthRequestID string
	PartnerID     int64
	ClientID      string
	MemberID      int64
	Subject       string // the pairwise sub the partner knows the member by
	Scopes        []string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time // zero while valid
	UsedAt        time.Time // refresh tokens: when rotated; a second use is a replay
	SecretHash    []byte    // refresh tokens: SHA-256 of the wire value, which is never stored
}

// Valid reports whether t is unrevoked and unexpired at now.
func (t *Token) Valid(now time.Time) bool { return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) }

// TokenAccess is a token with its partner, the partner's current agreement
// and the member's grant to the partner: what deciding on one use of the
// token needs.
type TokenAccess struct {
	Token     *Token
	Partner   *Partner
	Agreement *Agreement // the newest approved version, expired or not; nil if none
	Grant     *Grant     // the member's grant, expired or not; nil if none
}

// OAuthStore keeps the authorization server's state.
type OAuthStore interface {
	// CreateAuthRequest stores a new request.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// AuthRequest returns a request by id. ENOTFOUND if absent or expired.
	AuthRequest(ctx context.Context, id string, now time.Time) (*AuthRequest, error)
	// CompleteAuthRequest records the login and consent. ENOTFOUND;
	// ECONFLICT if a code was already issued for it.
	CompleteAuthRequest(ctx context.Context, id string, memberID int64, authTime time.Time, granted []string) error
	// SaveAuthCode stores the hash of the request's one code. ECONFLICT if
	// a code was already issued; ENOTFOUND.
	SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error
	// AuthRequestByCode returns the request of a code without using it up:
	// the token endpoint checks the client and PKCE first, and only then
	// consumes the code. A used code's request is returned too (with
	// CodeUsedAt set), so that its replay by the client that owns it can
	// be refused by ConsumeAuthCode; ENOTFOUND for an unknown code, or an
	// unused one that has expired.
	AuthRequestByCode(ctx context.Context, codeHash []byte, now time.Time) (*AuthRequest, error)
	// ConsumeAuthCode marks the code used and returns its request, in one
	// atomic step. A code used before revokes every token issued from its
	// request and returns ECONFLICT; an expired or unknown code ENOTFOUND.
	ConsumeAuthCode(ctx context.Context, codeHash []byte, now time.Time) (*AuthRequest, error)
	// CreateTokens stores new tokens (refresh may be nil). When rotating,
	// spentRefreshID names the refresh token being exchanged: it is marked
	// used in the same transaction, and if it was already used, revoked or
	// expired, the whole family is revoked and ECONFLICT returned.
	CreateTokens(ctx context.Context, access, refresh *Token, spentRefreshID string, now time.Time) error
	// Token returns a token by id. ENOTFOUND.
	Token(ctx context.Context, id string) (*Token, error)
	// AccessByTokenID returns the token with id together with what it is
	// checked against on each use, all read in one snapshot. ENOTFOUND if
	// the token is absent.
	AccessByTokenID(ctx context.Context, id string) (*TokenAccess, error)
	// RefreshTokenByHash returns a refresh token by the hash of its value.
	// ENOTFOUND.
	RefreshTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// TokenBySubject returns the newest token issued to clientID for the
	// member it knows as subject (the pairwise id). ENOTFOUND.
	TokenBySubject(ctx context.Context, clientID, subject string) (*Token, error)
	// RevokeToken revokes one access token, or a refresh token with its
	// whole family. No error if already revoked; ENOTFOUND if absent.
	RevokeToken(ctx context.Context, id string, now time.Time) error
	// Secret returns the named server secret, creating it from generate
	// on first use (atomically, so every node of a cluster agrees).
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}
