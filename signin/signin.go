package signin

import (
	"context"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ratelimit"
)

// DefaultLifetime is how long a session lasts unless Config.Lifetime says
// otherwise.
const DefaultLifetime = 30 * 24 * time.Hour

// Store is what sign-in needs of the store: password hashes and sessions.
// *sqlstore.Store implements it, as does every glasshouse.Store.
type Store interface {
	// PasswordHash returns the member id and stored hash for a handle.
	// ENOTFOUND if absent.
	PasswordHash(ctx context.Context, handle string) (int64, string, error)
	glasshouse.SessionStore
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)

// Config wires a Service. Store and Key are required.
type Config struct {
	Store Store
	// Key MACs the forms' CSRF tokens: at least 32 secret bytes, the same
	// on every node.
	Key []byte
	// SecureCookies marks the cookies Secure even on plain HTTP requests
	// (behind a TLS-terminating proxy); the CSRF cookie then takes the
	// __Host- prefix.
	SecureCookies bool
	// Lifetime is how long a session lasts; zero means DefaultLifetime.
	Lifetime time.Duration
	// PerAccount and PerIP limit failed password attempts; nil means
	// NewLoginLimiters' defaults. Other doors that check passwords (the
	// privacy center's deletion form) may share PerAccount.
	PerAccount, PerIP *ratelimit.Limiter
	Now               func() time.Time // nil means time.Now
	// Buckets, when set, keeps the default limits' buckets there, shared by
	// every node of a cluster (ratelimit.Config.Shared); nil keeps them in
	// this process.
	Buckets ratelimit.Buckets
}

// NewLoginLimiters returns the default limits on failed password attempts:
// a burst of 10 then one a minute per account, and a burst of 30 then one
// every 10 seconds per IP address; with buckets, shared by every node.
func NewLoginLimiters(now func() time.Time, buckets ratelimit.Buckets) (perAccount, perIP *ratelimit.Limiter) {
	return ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 10, Now: now, Shared: buckets, Name: "login-account"}),
		ratelimit.New(ratelimit.Config{Every: 10 * time.Second, Burst: 30, Now: now, Shared: buckets, Name: "login-ip"})
}

// Service signs members in and out. Create it with New; share one among
// every door, so that they count failed attempts together and agree on
// the cookie and the lifetime.
type Service struct {
	store      Store
	key        []byte
	secure     bool
	lifetime   time.Duration
	perAccount *ratelimit.Limiter
	perIP      *ratelimit.Limiter
	now        func() time.Time
}

// New returns a Service. It panics when Store is missing or Key is short
// (programming errors any test catches).
func New(c Config) *Service {
	if c.Store == nil {
		panic("signin: Config.Store is required")
	}
	if len(c.Key) < 32 {
		panic("signin: Config.Key needs at least 32 bytes")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Lifetime <= 0 {
		c.Lifetime = DefaultLifetime
	}
	defAccount, defIP := NewLoginLimiters(c.Now, c.Buckets)
	if c.PerAccount == nil {
		c.PerAccount = defAccount
	}
	if c.PerIP == nil {
		c.PerIP = defIP
	}
	return &Service{store: c.Store, key: c.Key, secure: c.SecureCookies, lifetime: c.Lifetime,
		perAccount: c.PerAccount, perIP: c.PerIP, now: c.Now}
}

// secureFor reports whether cookies set in answer to r are Secure.
func (s *Service) secureFor(r *http.Request) bool { return s.secure || r.TLS != nil }

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site, for
// maxAge seconds (0: until the browser closes; negative: cleared).
func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureFor(r),
		SameSite: http.SameSiteLaxMode,
	})
}
