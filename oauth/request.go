package oauth

import (
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is op.AuthRequest over the stored request. subject is the
// member's pairwise id at the client, once a member logged in.
type authRequest struct {
	r       *glasshouse.AuthRequest
	subject string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.r.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return nil }
func (a *authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.r.AuthTime }
func (a *authRequest) GetClientID() string    { return a.r.ClientID }
func (a *authRequest) GetNonce() string       { return a.r.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.r.RedirectURI }
func (a *authRequest) GetState() string       { return a.r.State }
func (a *authRequest) GetSubject() string     { return a.subject }
func (a *authRequest) Done() bool             { return a.r.Done && a.r.MemberID != 0 }

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: oidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}

func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.r.ResponseType)
}

func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.ResponseMode)
}

// GetScopes returns the granted scopes once the member consented: the op
// copies them into the tokens and the token response.
func (a *authRequest) GetScopes() []string {
	if a.Done() {
		return slices.Clone(a.r.GrantedScopes)
	}
	return slices.Clone(a.r.RequestedScopes)
}

// refreshRequest is op.RefreshTokenRequest: the refresh token being
// exchanged, and the scopes the new tokens get (the family's scopes still
// in force, or fewer if the client asked for fewer).
type refreshRequest struct {
	token        *glasshouse.Token
	scopes       []string  // still in force
	asked        []string  // narrowed by the client's scope parameter, if any
	grantExpires time.Time // no new token outlives the grant
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return nil }
func (r *refreshRequest) GetAudience() []string  { return []string{r.token.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.token.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.token.ClientID }
func (r *refreshRequest) GetSubject() string     { return r.token.Subject }

func (r *refreshRequest) GetScopes() []string {
	if r.asked != nil {
		return slices.Clone(r.asked)
	}
	return slices.Clone(r.scopes)
}

func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.asked = slices.Clone(scopes) }
