package oauth

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/pairwise"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Store is what the authorization server needs of the store: partners,
// grants and its own state, plus members and conversations for the consent
// page; the methods of glasshouse.Store it uses, under the name of the
// interface that documents each. Sessions and passwords are
// Config.SignIn's. *sqlstore.Store implements it, as does every
// glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	MemberByID(ctx context.Context, id int64) (*glasshouse.Member, error)
	// glasshouse.ConversationStore
	Conversations(ctx context.Context, memberID int64) ([]*glasshouse.Conversation, error)
	// glasshouse.PartnerStore
	CurrentAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error)
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error)
	PartnerSecretHash(ctx context.Context, clientID string) ([]byte, error)
	// glasshouse.GrantStore
	Grant(ctx context.Context, memberID, partnerID int64) (*glasshouse.Grant, error)
	SaveGrant(ctx context.Context, g glasshouse.Grant, relayEmail string) (*glasshouse.Grant, error)
	// glasshouse.OAuthStore
	AccessByTokenID(ctx context.Context, id string) (*glasshouse.TokenAccess, error)
	AuthRequest(ctx context.Context, id string, now time.Time) (*glasshouse.AuthRequest, error)
	AuthRequestByCode(ctx context.Context, codeHash []byte, now time.Time) (*glasshouse.AuthRequest, error)
	CompleteAuthRequest(ctx context.Context, id string, memberID int64, authTime time.Time, granted []string) error
	ConsumeAuthCode(ctx context.Context, codeHash []byte, now time.Time) (*glasshouse.AuthRequest, error)
	CreateAuthRequest(ctx context.Context, r *glasshouse.AuthRequest) error
	CreateTokens(ctx context.Context, access, refresh *glasshouse.Token, spentRefreshID string, now time.Time) error
	RefreshTokenByHash(ctx context.Context, hash []byte) (*glasshouse.Token, error)
	RevokeToken(ctx context.Context, id string, now time.Time) error
	SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
	Token(ctx context.Context, id string) (*glasshouse.Token, error)
	TokenBySubject(ctx context.Context, clientID, subject string) (*glasshouse.Token, error)
	// glasshouse.Store
	Ping(ctx context.Context) error
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)

// Config configures a Server. Issuer, Store and SignIn are required.
type Config struct {
	// Issuer is the server's bare origin, such as https://glasshouse.example
	// (no path, no trailing slash): the op serves its endpoints at fixed
	// root paths, and clients compare the issuer string exactly. http is
	// accepted for local development.
	Issuer string
	Store  Store
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	// Buckets, when set, keeps the default limits' buckets there, shared by
	// every node of a cluster (ratelimit.Config.Shared); nil keeps them in
	// this process.
	Buckets ratelimit.Buckets
	// Ceiling is the platform's scope ceiling: the data scopes any
	// agreement may use at all. Empty allows none (deny by default).
	Ceiling []string
	// Mailer delivers relay email; nil means a new RecordingMailer.
	Mailer Mailer
	// SignIn signs members in on the login page, and tells the pages who
	// is signed in: the session, its cookie and lifetime, login's limits
	// and the forms' CSRF tokens that the member API and pages share.
	SignIn *signin.Service
	// RelayDomain makes relay addresses <random>@relay.<RelayDomain>; empty
	// means the issuer's host name.
	RelayDomain string
	// Stylesheet is the URL of the product's stylesheet for the login and
	// consent pages: a path on this site, such as the ui package's
	// versioned /assets/style.css?v=…; empty means the pages have none.
	Stylesheet string
	// AccessCount returns how many accesses a partner has made so far
	// across the platform, for the consent page; nil leaves that line out.
	AccessCount func(ctx context.Context, partnerID int64) (int64, error)
}

// Server is the authorization server. Create it with New, mount it with
// Register.
type Server struct {
	issuer         string
	store          Store
	log            *slog.Logger
	now            func() time.Time
	ceiling        []string
	mailer         Mailer
	signIn         *signin.Service
	relayDomain    string
	authorizeLimit *ratelimit.Limiter
	stylesheet     string
	accessCount    func(ctx context.Context, partnerID int64) (int64, error)

	keys     *secrets
	crypto   op.Crypto
	bearers  bearerCache // decrypted access tokens
	provider *op.Provider
	pages    *template.Template
}

// New loads (or on first start creates) the server's secrets and builds the
// OpenID provider.
func New(c Config) (*Server, error) {
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("oauth: issuer %q must be a bare origin such as https://glasshouse.example", c.Issuer)
	}
	if c.Store == nil || c.SignIn == nil {
		return nil, fmt.Errorf("oauth: Config.Store and SignIn are required")
	}
	if len(c.Ceiling) > 0 {
		if err := glasshouse.ValidateScopes(c.Ceiling); err != nil {
			return nil, fmt.Errorf("oauth: ceiling: %w", err)
		}
	}
	if s := c.Stylesheet; s != "" && (!strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\")) {
		return nil, fmt.Errorf("oauth: stylesheet %q must be a path on this site", s)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Mailer == nil {
		c.Mailer = &RecordingMailer{}
	}
	if c.RelayDomain == "" {
		c.RelayDomain = u.Hostname()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := loadSecrets(ctx, c.Store)
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	s := &Server{
		issuer:      c.Issuer,
		store:       c.Store,
		log:         c.Logger,
		now:         c.Now,
		ceiling:     c.Ceiling,
		mailer:      c.Mailer,
		signIn:      c.SignIn,
		relayDomain: c.RelayDomain,
		// 60 authorization requests at once, then one a second, per address.
		authorizeLimit: ratelimit.New(ratelimit.Config{Every: time.Second, Burst: 60, Now: c.Now, Shared: c.Buckets, Name: "authorize-ip"}),
		keys:           keys,
		crypto:         op.NewAES256GCMCrypto(keys.tokenKey, cryptoKeyID),
		pages:          parsePages(),
		stylesheet:     c.Stylesheet,
		accessCount:    c.AccessCount,
	}
	opts := []op.Option{
		// GCM only: NewProvider would also accept unauthenticated AES-CFB.
		op.WithCrypto(s.crypto),
		// No CORS: partners call the token endpoint from their servers.
		op.WithCORSOptions(nil),
	}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	s.provider, err = op.NewProvider(&op.Config{
		CryptoKey:             keys.tokenKey,
		CryptoKeyId:           cryptoKeyID,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       append([]string{glasshouse.ScopeOpenID, glasshouse.ScopeOffline}, glasshouse.DataScopes...),
		// The claims of the ID token and userinfo: the pairwise sub and
		// the protocol's own. Profile, email and phone are Graph API data.
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "azp", "at_hash"},
	}, &storage{s}, op.StaticIssuer(c.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oauth: provider: %w", err)
	}
	return s, nil
}

// Endpoint paths. The op serves the protocol endpoints at fixed root paths;
// discovery names them all.
const (
	loginPath   = "/oauth/login"
	consentPath = "/oauth/consent"
)

// limitByIP answers 429 (with Retry-After) once an address is over l.
func (s *Server) limitByIP(l *ratelimit.Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, after := l.Allow(clientip.Of(r)); !ok {
			httpio.SetRetryAfter(w.Header(), after)
			http.Error(w, "Too many authorization requests from this address; try again later.", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Register mounts the authorization server on mux: the op's protocol
// endpoints at their own paths (not "/", which stays the caller's), our
// discovery document, and the login and consent pages. The op's routes
// that this server does not offer (its login callback, end_session,
// device_authorization) answer 404.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("/oauth/token", clientEndpoint(s.provider))
	mux.Handle("/revoke", clientEndpoint(s.provider))
	mux.HandleFunc("/oauth/introspect", s.introspect)
	mux.HandleFunc("/userinfo", s.userinfo)
	mux.Handle("/keys", s.provider)
	// /authorize needs no credentials and stores a request per call: bound
	// what one address can make it store.
	mux.Handle("/authorize", s.limitByIP(s.authorizeLimit, s.authorizeChecks(s.provider)))
	mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.discovery) // RFC 8414
	mux.HandleFunc("GET "+loginPath, s.loginPage)
	mux.HandleFunc("POST "+loginPath, s.login)
	mux.HandleFunc("GET "+consentPath, s.consentPage)
	mux.HandleFunc("POST "+consentPath, s.consent)
	// The op's /authorize/callback mints a code for any finished request
	// id, whoever asks; consent finishes the flow itself instead.
	for _, p := range []string{"/authorize/callback", "/end_session", "/device_authorization"} {
		mux.Handle(p, http.NotFoundHandler())
	}
}

// discovery serves the OpenID Provider metadata. The op's own document
// claims public subjects, the implicit flow and the JWT bearer grant; this
// one says what the server does.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), s.issuer)
	cfg := op.CreateDiscoveryConfig(ctx, s.provider, s.provider.Storage())
	cfg.SubjectTypesSupported = []string{"pairwise"}
	cfg.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	cfg.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	cfg.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	cfg.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	cfg.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	cfg.TokenEndpointAuthSigningAlgValuesSupported = nil
	cfg.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	cfg.RevocationEndpointAuthSigningAlgValuesSupported = nil
	cfg.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	cfg.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	cfg.RequestObjectSigningAlgValuesSupported = nil
	cfg.EndSessionEndpoint = ""
	cfg.CheckSessionIframe = ""
	cfg.DeviceAuthorizationEndpoint = ""
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Discover(w, cfg)
}

// PairwiseID returns the id under which the partner with clientID knows
// memberID: the OpenID sub, and every member id that partner sees.
func (s *Server) PairwiseID(clientID string, memberID int64) string {
	return pairwise.ID(s.keys.pairwiseKey, clientID, memberID)
}

// MemberIDFor maps a pairwise id that the partner with clientID sent back to
// a member id, among candidates (for example the caller's friends). It
// reports false when no candidate has that pairwise id. Pairwise ids cannot
// be reversed, so this costs one HMAC per candidate.
func (s *Server) MemberIDFor(clientID, pairwiseID string, candidates []int64) (int64, bool) {
	for _, id := range candidates {
		if s.PairwiseID(clientID, id) == pairwiseID {
			return id, true
		}
	}
	return 0, false
}
