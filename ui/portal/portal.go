package portal

import (
	"context"
	"embed"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/ui"
)

//go:embed pages/*.html
var pagesFS embed.FS

// Store is what the portal reads and changes: the methods of
// glasshouse.Store it uses, under the name of the interface that documents
// each. *sqlstore.Store implements it, as does every glasshouse.Store.
type Store interface {
	// glasshouse.PartnerStore
	ApproveAgreement(ctx context.Context, clientID string, now time.Time) (*glasshouse.Agreement, error)
	EndPortalSessions(ctx context.Context, clientID string) error
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error)
	PartnerSecretHash(ctx context.Context, clientID string) ([]byte, error)
	Partners(ctx context.Context) ([]*glasshouse.Partner, error)
	PortalEpoch(ctx context.Context, clientID string) (int64, error)
	SetPartnerStatus(ctx context.Context, clientID, status string) (*glasshouse.Partner, error)
	// glasshouse.OperatorStore
	IsOperator(ctx context.Context, memberID int64) (bool, error)
	// glasshouse.PartnerStatsStore
	Agreements(ctx context.Context, partnerID int64) ([]*glasshouse.Agreement, error)
	PartnerAccessTotals(ctx context.Context, partnerID int64) (glasshouse.AccessTotals, error)
	PartnerUsage(ctx context.Context, partnerID int64, since, until time.Time, receipts int) (*glasshouse.PartnerUsage, error)
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)

// Config wires the portal. Kit, Store and Key are required.
type Config struct {
	Kit   *ui.Kit
	Store Store
	// Key signs partner sessions: at least 32 secret bytes, the same on
	// every node. It may be the Kit's key: the portal's MACs are of
	// their own domain.
	Key []byte
	// SecureCookies marks the partner session cookie Secure even on plain
	// HTTP requests.
	SecureCookies bool
	// SessionLifetime is how long a partner stays signed in; zero means
	// one hour.
	SessionLifetime time.Duration
	// SignInLimit counts failed partner sign-ins per IP address; nil means
	// 10 at once, then one every 30 seconds.
	SignInLimit *ratelimit.Limiter
	// Buckets, when set, keeps the default limits' buckets there, shared by
	// every node of a cluster (ratelimit.Config.Shared); nil keeps them in
	// this process.
	Buckets ratelimit.Buckets
	Logger  *slog.Logger     // nil discards logs
	Now     func() time.Time // nil means time.Now
}

// Portal serves /developers, /admin and /docs. Create it with New and
// register its routes with Mount.
type Portal struct {
	kit      *ui.Kit
	store    Store
	key      []byte
	secure   bool
	lifetime time.Duration
	signIns  *ratelimit.Limiter
	log      *slog.Logger
	now      func() time.Time
	tmpl     map[string]*template.Template
	guides   []guide
}

// New returns the portal. It panics when a required field is missing or
// the embedded templates do not parse (programming errors any test
// catches).
func New(c Config) *Portal {
	if c.Kit == nil || c.Store == nil {
		panic("portal: Config.Kit and Store are required")
	}
	if len(c.Key) < 32 {
		panic("portal: Config.Key needs at least 32 bytes")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = time.Hour
	}
	if c.SignInLimit == nil {
		c.SignInLimit = ratelimit.New(ratelimit.Config{Every: 30 * time.Second, Burst: 10, Now: c.Now, Shared: c.Buckets, Name: "portal-signin-ip"})
	}
	p := &Portal{kit: c.Kit, store: c.Store, key: c.Key, secure: c.SecureCookies, lifetime: c.SessionLifetime,
		signIns: c.SignInLimit, log: c.Logger, now: c.Now}
	funcs := template.FuncMap{
		"eventID":   func(id [16]byte) string { return hex.EncodeToString(id[:]) },
		"scopeText": func(s string) string { return glasshouse.ScopeDescriptions[s] },
		"join":      strings.Join,
		"secret":    secretField,
		"rowError":  rowError,
	}
	tmpl, err := c.Kit.Pages(pagesFS, funcs, "pages/*.html")
	if err != nil {
		panic(err)
	}
	p.tmpl = tmpl
	if p.guides, err = loadGuides(guidesFS); err != nil {
		panic(err)
	}
	return p
}

// Mount registers the routes on mux:
//
//	GET  /developers                            what partners get, on what rules; sign-in form
//	POST /developers/signin                     client id and secret: a partner session
//	GET  /developers/dashboard                  the signed-in partner's agreement, usage, receipts
//	POST /developers/signout                    ends the partner session
//	GET  /docs/                                 the list of guides
//	GET  /docs/{name}.md                        a guide of package docs, rendered from Markdown
//	GET  /admin                                 operators: partners, agreements waiting
//	POST /admin/partners/{client}/approve       operators: approve the newest agreement version
//	POST /admin/partners/{client}/suspend       operators: suspend a partner
//	POST /admin/partners/{client}/resume        operators: lift a suspension
//
// Every POST checks the form's CSRF token. Any other method or path under
// /admin answers 404, as for a path that does not exist.
func (p *Portal) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /developers", p.developers)
	mux.Handle("POST /developers/signin", p.form(p.signIn))
	mux.Handle("GET /developers/dashboard", p.partnerOnly(p.dashboard))
	mux.Handle("POST /developers/signout", p.form(p.signOut))
	mux.HandleFunc("GET /docs/{$}", p.docsIndex)
	mux.HandleFunc("GET /docs/{name}", p.serveDoc)

	mux.Handle("GET /admin", p.operatorOnly(p.admin))
	mux.Handle("POST /admin/partners/{client}/{action}", p.operatorOnly(p.adminAction))
	// Without these, a wrong method on an /admin route would answer 405
	// and so tell that the route exists.
	mux.HandleFunc("/admin", p.kit.NotFound)
	mux.HandleFunc("/admin/", p.kit.NotFound)
}

// form checks a POSTed form's CSRF token before calling h.
func (p *Portal) form(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.kit.ParseForm(w, r); err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		h(w, r)
	})
}

// render shows page name with status.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, name string, status int, pg *ui.Page) {
	p.kit.Render(w, r, p.tmpl[name], status, pg)
}

// flashes are the confirmations a redirect can ask for with ?done=: fixed
// texts, so that a link cannot make a page say anything else.
var flashes = map[string]string{
	"signedout": "Signed out.",
	"approved":  "Agreement approved. Members are asked to consent to its scopes from now on.",
	"suspended": "Partner suspended: its next request, and every one after, is refused.",
	"resumed":   "Suspension lifted: the partner may call the Graph API again under its current agreement.",
}
