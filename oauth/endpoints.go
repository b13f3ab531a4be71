package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// This file holds what the protocol endpoints must do by the RFCs and the
// op does not: the token and revocation endpoints keep the op's logic
// inside clientEndpoint; introspection and userinfo are answered here.

// realm names the server in WWW-Authenticate challenges.
const realm = `realm="glasshouse"`

// clientEndpoint wraps an endpoint where partners authenticate with their
// client secret (token, revocation): every answer is Cache-Control:
// no-store (RFC 6749 §5.1); the client authenticates with HTTP Basic, the
// one method discovery names, and a body credential is refused (a client
// must use one method only, §2.3); and every 401 carries a Basic challenge
// (§5.2).
func clientEndpoint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		if !basicOnly(w, r) {
			return
		}
		next.ServeHTTP(&challenger{ResponseWriter: w, challenge: "Basic " + realm}, r)
	})
}

// basicOnly parses the form and checks the client authenticates with HTTP
// Basic only, or answers 401 invalid_client and returns false.
func basicOnly(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "Use POST.", "")
		return false
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "The form could not be read.", "")
		return false
	}
	_, _, basic := r.BasicAuth()
	if !basic || r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") {
		writeError(w, http.StatusUnauthorized, "invalid_client", "Authenticate with HTTP Basic (client_secret_basic), and only so.", "Basic "+realm)
		return false
	}
	return true
}

// challenger adds a WWW-Authenticate challenge to a 401 that lacks one.
type challenger struct {
	http.ResponseWriter
	challenge string
}

func (c *challenger) WriteHeader(status int) {
	if h := c.Header(); status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *challenger) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// writeError writes an RFC 6749 §5.2 error body, with a WWW-Authenticate
// challenge if given.
func writeError(w http.ResponseWriter, status int, code, description, challenge string) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	httpio.WriteJSON(w, status, map[string]string{"error": code, "error_description": description}) // always marshals
}

// errClientAuth is the one answer to a failed client authentication, the
// same for an unknown client, a wrong secret and a partner not in force,
// so that it tells nothing about which client ids exist.
const errClientAuth = "Client authentication failed."

// introspect answers token introspection (RFC 7662) for the partner's own
// tokens: an access token or a refresh token is active while it is valid,
// its partner is in force and the member's grant is live. Errors are RFC
// 6749 §5.2 JSON; every answer is no-store.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if !basicOnly(w, r) {
		return
	}
	ctx := r.Context()
	clientID, secret, _ := r.BasicAuth()
	clientID, err1 := url.QueryUnescape(clientID) // RFC 6749 §2.3.1
	secret, err2 := url.QueryUnescape(secret)
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusUnauthorized, "invalid_client", errClientAuth, "Basic "+realm)
		return
	}
	if err := (&storage{s}).AuthorizeClientIDSecret(ctx, clientID, secret); err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
			writeError(w, http.StatusUnauthorized, "invalid_client", errClientAuth, "Basic "+realm)
			return
		}
		s.log.ErrorContext(ctx, "introspection", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "Try again later.", "")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Send the token to introspect as the token parameter.", "")
		return
	}
	resp, err := s.introspection(ctx, clientID, token)
	if err != nil {
		s.log.ErrorContext(ctx, "introspection", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "Try again later.", "")
		return
	}
	httpio.WriteJSON(w, http.StatusOK, resp) // always marshals
}

// introspection describes token as its own client, clientID, may see it;
// {"active": false} for anything else.
func (s *Server) introspection(ctx context.Context, clientID, token string) (*oidc.IntrospectionResponse, error) {
	inactive := &oidc.IntrospectionResponse{}
	var t *glasshouse.Token
	var scopes []string
	a, err := s.Authenticate(ctx, token)
	var ae *AccessError
	switch {
	case err == nil:
		t, scopes = a.Token, a.Token.Scopes
	case !errors.As(err, &ae):
		return nil, err
	default: // not a live access token: perhaps a refresh token
		now := s.now()
		t, err = s.store.RefreshTokenByHash(ctx, hash(token))
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			return inactive, nil
		} else if err != nil {
			return nil, err
		}
		if !t.Valid(now) || !t.UsedAt.IsZero() {
			return inactive, nil
		}
		sd, err := s.standing(ctx, t.ClientID, t.MemberID, now)
		if errors.As(err, &ae) {
			return inactive, nil
		} else if err != nil {
			return nil, err
		}
		scopes = narrow(t.Scopes, sd.scopes)
	}
	if t.ClientID != clientID {
		return inactive, nil
	}
	resp := &oidc.IntrospectionResponse{
		Active:     true,
		Scope:      scopes,
		ClientID:   t.ClientID,
		Subject:    t.Subject,
		Expiration: oidc.FromTime(t.ExpiresAt),
		IssuedAt:   oidc.FromTime(t.CreatedAt),
		AuthTime:   oidc.FromTime(t.AuthTime),
		Audience:   oidc.Audience{t.ClientID},
		Issuer:     s.issuer,
	}
	if t.Kind == glasshouse.AccessToken {
		resp.TokenType = oidc.BearerToken
	}
	return resp, nil
}

// userinfo answers the UserInfo endpoint (OIDC Core §5.3) with the bearer
// token of RFC 6750: 401 with a Bearer challenge for a missing or refused
// token, 403 insufficient_scope without openid.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	bearer, ok := bearerToken(w, r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "invalid_request", "Send the access token in an Authorization: Bearer header.", "Bearer "+realm)
		return
	}
	a, err := s.Authenticate(r.Context(), bearer)
	var ae *AccessError
	if errors.As(err, &ae) {
		writeError(w, http.StatusUnauthorized, "invalid_token", ae.Err.Message,
			fmt.Sprintf(`Bearer %s, error="invalid_token", error_description=%q`, realm, ae.Err.Message))
		return
	} else if err != nil {
		s.log.ErrorContext(r.Context(), "userinfo", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "Try again later.", "")
		return
	}
	if !slices.Contains(a.Token.Scopes, glasshouse.ScopeOpenID) {
		const msg = "The userinfo endpoint needs a token with the openid scope."
		writeError(w, http.StatusForbidden, "insufficient_scope", msg,
			fmt.Sprintf(`Bearer %s, error="insufficient_scope", scope="openid", error_description=%q`, realm, msg))
		return
	}
	httpio.WriteJSON(w, http.StatusOK, Claims(a)) // always marshals
}

// bearerToken returns the request's bearer token: in the Authorization
// header, or for a form POST in its access_token parameter (RFC 6750 §2).
func bearerToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		return token, token != ""
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if token := r.PostFormValue("access_token"); token != "" {
			return token, true
		}
	}
	return "", false
}

// authorizeChecks answers, before the op, an authorization request whose
// response_type is not code but whose client and redirect URI are valid:
// with a redirect carrying unsupported_response_type and the state (RFC
// 6749 §4.1.2.1). The op would show an error page instead.
func (s *Server) authorizeChecks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err == nil {
				q = r.Form
			}
		}
		rt, redirect := q.Get("response_type"), q.Get("redirect_uri")
		if rt == "" || rt == string(oidc.ResponseTypeCode) || redirect == "" {
			next.ServeHTTP(w, r)
			return
		}
		c, err := s.client(r.Context(), q.Get("client_id"), s.now())
		if err != nil || !slices.Contains(c.partner.RedirectURIs, redirect) {
			next.ServeHTTP(w, r) // no redirect to an unchecked URI: the op's error page
			return
		}
		u, err := url.Parse(redirect)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		v := u.Query()
		v.Set("error", "unsupported_response_type")
		v.Set("error_description", "Only response_type=code is supported.")
		if state := q.Get("state"); state != "" {
			v.Set("state", state)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
}
