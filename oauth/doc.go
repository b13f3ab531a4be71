// Package oauth is glasshouse's authorization server: OAuth 2.0 and OpenID
// Connect on github.com/zitadel/oidc/v3 (pkg/op), with the rules that the
// library leaves to its storage, made strict.
//
// It owns the partner-facing protocol endpoints (discovery, JWKS, authorize,
// token, userinfo, revocation, introspection), the server-rendered login and
// consent pages, the server's secrets (the token encryption key, the RSA
// signing key and the pairwise key, kept through OAuthStore.Secret), the
// check of access tokens that the Graph API relies on (Server.Authenticate),
// pairwise subject ids, and the relay email addresses handed to partners.
//
// The rules it enforces, each tested:
//
//   - only the authorization code flow, with PKCE S256 for every client (no
//     plain, no missing challenge), exact redirect-URI match, state and nonce
//     carried, ID tokens signed RS256;
//   - codes are single-use and live AuthCodeLifetime (60 s); a reused code
//     gives invalid_grant and revokes every token issued from it;
//   - access tokens are opaque (an AES-GCM JWE around the token id) and live
//     at most AccessTokenLifetime (15 min); refresh tokens are rotated on
//     every use, and a replayed one revokes its whole family;
//   - scopes are requested ∩ the platform ceiling ∩ the approved agreement,
//     then only what the member ticked; messages.read needs an agreement
//     with a current security assessment;
//   - a suspended partner is refused from its next request (authorize,
//     token, refresh, introspection, userinfo, Graph API), because every
//     check reads the partner's status from the store, uncached;
//   - an expired grant (90 days, or its agreement's end) cannot refresh;
//   - partners see pairwise ids only (package pairwise), never a member's
//     internal id or handle.
//
// Client secrets are 256-bit random strings (NewClientCredentials); the store
// keeps their SHA-256 (HashSecret). Signing in is package signin's, shared
// with the member API and pages (Config.SignIn): the login page reuses the
// member's glasshouse session, or signs the member in with handle and
// password within the same limits, opening the same kind of session, with
// the same lifetime and cookie. Both pages' forms carry signin's CSRF
// token, bound to the browser, its session, the page's purpose and the
// authorization request; both pages refuse framing. Their errors are
// answered through package httpio, like every other page's.
package oauth
