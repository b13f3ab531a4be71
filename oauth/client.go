package oauth

import (
	"net/url"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is op.Client for an approved partner under its current agreement:
// a confidential web client with a secret (HTTP Basic), the code flow and
// refresh only, opaque bearer tokens, and exact redirect URIs (it does not
// implement op.HasRedirectGlobs, and is not a native client, whose loopback
// ports the op would ignore).
type client struct {
	partner   *glasshouse.Partner
	agreement *glasshouse.Agreement
	grantable []string // the data scopes it may be granted now
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.partner.ClientID }
func (c *client) RedirectURIs() []string              { return slices.Clone(c.partner.RedirectURIs) }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string            { return loginPath + "?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return glasshouse.AccessTokenLifetime }
func (c *client) DevMode() bool                        { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.grantable, scope) }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
