package messenger

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/ui"
)

//go:embed pages/*.html
var pagesFS embed.FS

// Accounts signs members up and out. web.Server implements it, so that the
// pages and the JSON API share the limit on sign-ups, and signing out
// closes the session's streams. Signing in is the Kit's signin.Service's,
// which the API shares too.
type Accounts interface {
	// Signup validates a sign-up and creates the member, within the limit
	// of sign-ups per address ip.
	Signup(ctx context.Context, in glasshouse.Signup, ip string) (*glasshouse.Member, error)
	// Logout ends the request's session and its streams, and clears its
	// cookie.
	Logout(w http.ResponseWriter, r *http.Request) error
}

// Config wires the pages. Kit, Store and Accounts are required.
type Config struct {
	Kit      *ui.Kit
	Store    Store
	Accounts Accounts
	Logger   *slog.Logger     // nil discards logs
	Now      func() time.Time // nil means time.Now
}

// Pages serves the messenger pages. Create it with New and register its
// routes with Mount.
type Pages struct {
	kit      *ui.Kit
	store    Store
	accounts Accounts
	log      *slog.Logger
	now      func() time.Time
	tmpl     map[string]*template.Template
}

// New returns the pages. It panics when a required field is missing or the
// embedded templates do not parse (programming errors any test catches).
func New(c Config) *Pages {
	if c.Kit == nil || c.Store == nil || c.Accounts == nil {
		panic("messenger: Config.Kit, Store and Accounts are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	p := &Pages{kit: c.Kit, store: c.Store, accounts: c.Accounts, log: c.Logger, now: c.Now}
	tmpl, err := c.Kit.Pages(pagesFS, template.FuncMap{"optional": optional, "name": displayName}, "pages/*.html")
	if err != nil {
		panic(err)
	}
	p.tmpl = tmpl
	return p
}

// Mount registers the routes on mux. Every POST checks the form's CSRF
// token first; the member pages send signed-out visitors to /signin.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.landing)
	mux.HandleFunc("GET /signup", p.signupForm)
	mux.Handle("POST /signup", p.form(p.signup))
	mux.HandleFunc("GET /signin", p.signinForm)
	mux.Handle("POST /signin", p.form(p.signin))
	mux.Handle("POST /signout", p.form(p.signout))

	get := func(pattern string, h memberHandler) { mux.Handle(pattern, p.kit.RequireMember(h)) }
	post := func(pattern string, h memberHandler) { mux.Handle(pattern, p.kit.RequireMember(p.memberForm(h))) }

	// Friends and blocks (friends.go).
	get("GET /friends", p.friends)
	post("POST /friends", p.requestFriend)
	post("POST /friends/requests/{id}/accept", p.acceptRequest)
	post("POST /friends/requests/{id}/decline", p.declineRequest)
	post("POST /friends/requests/{id}/cancel", p.cancelRequest)
	post("POST /friends/{handle}/remove", p.removeFriend)
	post("POST /blocks", p.block)
	post("POST /blocks/{handle}/unblock", p.unblock)

	// Conversations (conversations.go).
	get("GET /messages", p.conversations)
	post("POST /messages/direct", p.startDirect)
	post("POST /messages/groups", p.createGroup)
	get("GET /messages/{id}", p.conversation)
	post("POST /messages/{id}", p.send)
}

type memberHandler = func(http.ResponseWriter, *http.Request, *glasshouse.Member)

// form checks a POSTed form's CSRF token before calling h.
func (p *Pages) form(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.kit.ParseForm(w, r); err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		h(w, r)
	})
}

// memberForm is form for a signed-in member's POST.
func (p *Pages) memberForm(h memberHandler) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
		if err := p.kit.ParseForm(w, r); err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		h(w, r, m)
	}
}

// render shows page name with status.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, name string, status int, pg *ui.Page) {
	p.kit.Render(w, r, p.tmpl[name], status, pg)
}

// refuse answers a form that the store or the rules turned down: show
// renders the form's page again with err's message next to field ("" for
// the whole form), the status of err's code and its Retry-After
// (httpio.NewProblem). Errors a user must not see (internal, unavailable)
// get the error page instead.
func (p *Pages) refuse(w http.ResponseWriter, r *http.Request, err error, field string, show func(status int, pg *ui.Page)) {
	code := glasshouse.ErrorCode(err)
	if code == glasshouse.EINTERNAL || code == glasshouse.EUNAVAILABLE {
		p.kit.Fail(w, r, err)
		return
	}
	pr := httpio.NewProblem(p.log, r, err)
	pr.SetHeader(w.Header())
	show(pr.Status, &ui.Page{Errors: map[string]string{field: pr.Message}, Form: r.PostForm})
}

// flashes are the confirmations a redirect can ask for with ?done=: fixed
// texts, so that a link cannot make the page say anything else.
var flashes = map[string]string{
	"welcome":   "Welcome to glasshouse! Find your friends by their handle to start talking.",
	"requested": "Friend request sent.",
	"friends":   "You are now friends.",
	"declined":  "Request declined.",
	"cancelled": "Request cancelled.",
	"removed":   "Friend removed.",
	"blocked":   "Blocked. Neither of you can reach the other now.",
	"unblocked": "Unblocked.",
}

// redirect ends a successful POST: the browser gets the page again with a
// GET, and a reload does not post twice.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	if done != "" {
		path += "?done=" + done
	}
	ui.Redirect(w, r, path)
}

// handleInput reads a handle typed by a person: spaces and a leading @
// dropped, lower case.
func handleInput(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@"))
}

// pathID reads a positive integer path value; ENOTFOUND otherwise, as for
// an id that does not exist.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, glasshouse.Errorf(glasshouse.ENOTFOUND, "Page not found.")
	}
	return id, nil
}

// optional makes a form field not required.
func optional(f ui.Field) ui.Field {
	f.Required = false
	return f
}
