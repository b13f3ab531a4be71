package privacy

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/ui"
)

//go:embed pages
var pagesFS embed.FS

// Config wires a Center. Kit, Store, Export, DeleteAccount and SignOut are
// required.
type Config struct {
	Kit   *ui.Kit
	Store Store
	// Export writes memberID's data, as a zip archive, to w. An error
	// after the first byte aborts the download.
	Export func(ctx context.Context, memberID int64, w io.Writer) error
	// DeleteAccount erases memberID's account (GDPR Art. 17): what the
	// confirmation page promises. Nothing may be left half done: on error
	// the member stays signed in and sees an error page.
	DeleteAccount func(ctx context.Context, memberID int64) error
	// SignOut ends the request's session and clears its cookie
	// (web.Server.Logout).
	SignOut func(w http.ResponseWriter, r *http.Request) error
	// PasswordAttempts limits wrong passwords on the deletion form, by
	// handle. Pass the member API's per-account login limiter so that both
	// doors count together; nil means a burst of 10, then one a minute.
	PasswordAttempts *ratelimit.Limiter
	// Exports limits downloads of the data export per member (each reads
	// the member's whole history); nil means 3 at once, then one every 20
	// minutes.
	Exports *ratelimit.Limiter
	// Buckets, when set, keeps the default limits' buckets there, shared by
	// every node of a cluster (ratelimit.Config.Shared); nil keeps them in
	// this process.
	Buckets ratelimit.Buckets
	// MemberKey returns a member's log tag key (accesslog.Recorder's
	// MemberKey): the overview shows it with the member's access count
	// and the `glasshouse audit trail` command that finds their entries in
	// the log. Nil leaves that section out.
	MemberKey func(ctx context.Context, memberID int64) (accesslog.MemberKey, error)
	// PublicURL is the origin the command names (--public-url); "" means
	// the one the request came to.
	PublicURL string
	// Witnesses, if set, are the witnesses that cosign the log's
	// checkpoints: the member's browser then accepts a checkpoint only
	// with a quorum of their cosignatures.
	Witnesses *accesslog.WitnessPolicy
	Logger    *slog.Logger     // nil discards logs
	Now       func() time.Time // nil means time.Now
}

// Center serves the privacy center. Create it with New.
type Center struct {
	c     Config
	kit   *ui.Kit
	store Store
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
}

// New returns a Center. It panics if a required field is missing or the
// page templates do not parse (programming errors caught by any test).
func New(c Config) *Center {
	if c.Kit == nil || c.Store == nil || c.Export == nil || c.DeleteAccount == nil || c.SignOut == nil {
		panic("privacy: Config.Kit, Store, Export, DeleteAccount and SignOut are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PasswordAttempts == nil {
		c.PasswordAttempts = ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 10, Now: c.Now, Shared: c.Buckets, Name: "deletion-password"})
	}
	if c.Exports == nil {
		c.Exports = ratelimit.New(ratelimit.Config{Every: 20 * time.Minute, Burst: 3, Now: c.Now, Shared: c.Buckets, Name: "export-member"})
	}
	pages, err := c.Kit.Pages(pagesFS, funcs, "pages/*.html")
	if err != nil {
		panic(err)
	}
	return &Center{c: c, kit: c.Kit, store: c.Store, log: c.Logger, now: c.Now, pages: pages}
}

// Mount registers the privacy center's routes on mux.
func (pc *Center) Mount(mux *http.ServeMux) {
	member := func(pattern string, h func(http.ResponseWriter, *http.Request, *glasshouse.Member)) {
		mux.Handle(pattern, pc.kit.RequireMember(h))
	}
	member("GET /privacy", pc.overview)
	member("GET /privacy/apps/{partner}", pc.app)
	member("POST /privacy/apps/{partner}/revoke", pc.revokeApp)
	member("POST /privacy/apps/{partner}/revoke-scope", pc.revokeScope)
	member("POST /privacy/apps/{partner}/relay", pc.setRelay)
	member("POST /privacy/apps/{partner}/reconfirm", pc.reconfirmApp)
	member("POST /privacy/export", pc.export)
	member("GET /privacy/delete", pc.deletePage)
	member("POST /privacy/delete", pc.deleteAccount)
}

// render writes a page of the privacy section.
func (pc *Center) render(w http.ResponseWriter, r *http.Request, name string, status int, p *ui.Page) {
	if p.Section == "" {
		p.Section = "privacy"
	}
	pc.kit.Render(w, r, pc.pages[name], status, p)
}

// partnerID reads the {partner} path value. A malformed id names no app
// the member has: ENOTFOUND, like another member's app.
func partnerID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("partner"), 10, 64)
	if err != nil || id <= 0 {
		return 0, glasshouse.Errorf(glasshouse.ENOTFOUND, "No such app.")
	}
	return id, nil
}

// funcs are the page templates' own functions.
var funcs = template.FuncMap{
	"unix":       func(t time.Time) int64 { return t.Unix() },
	"minute":     func(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) },
	"sorted":     sortedScopes,
	"scopeText":  scopeText,
	"scopeClass": scopeClass,
	"hex":        func(b [16]byte) string { return fmt.Sprintf("%x", b) },
	"join":       strings.Join,
	"sub":        func(a, b int) int { return a - b },
	"f1":         func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"errorFor": func(p *ui.Page, kind string, id int64) string {
		return p.Errors[fmt.Sprintf("%s-%d", kind, id)]
	},
}

// scopeText says in plain words what a scope lets an app do.
func scopeText(scope string) string {
	if d, ok := glasshouse.ScopeDescriptions[scope]; ok {
		return d
	}
	return "A scope this page does not know"
}

// scopeClass is the chart class of a scope's colour.
func scopeClass(scope string) string {
	if !slices.Contains(glasshouse.DataScopes, scope) {
		return "s-other"
	}
	return "s-" + strings.ReplaceAll(scope, ".", "-")
}
