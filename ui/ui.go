package ui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/signin"
)

//go:embed templates static pages
var embedded embed.FS

// Config wires a Kit. SignIn is required; Store is, for pages that have a
// signed-in member.
type Config struct {
	Store Store
	// SignIn is the member's session (the one the member API and the
	// OAuth pages share) and the forms' CSRF tokens.
	SignIn *signin.Service
	// IsOperator reports whether a member may use the operator pages; nil
	// means nobody may.
	IsOperator func(ctx context.Context, memberID int64) (bool, error)
	Logger     *slog.Logger // nil discards logs
}

// Kit renders pages inside the shared layout. Create it with New.
type Kit struct {
	c            Config
	base         *template.Template
	errorPage    *template.Template
	notFoundPage *template.Template
	assets       map[string]asset // by name: "style.css", "js/live.js"
}

// New returns a Kit. It panics if SignIn is missing or the embedded
// templates do not parse (programming errors caught by any test).
func New(c Config) *Kit {
	if c.SignIn == nil {
		panic("ui: Config.SignIn is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Kit{c: c, assets: loadAssets()}
	k.base = template.Must(template.New("").Funcs(k.funcs()).ParseFS(embedded, "templates/*.html"))
	pages, err := k.Pages(embedded, nil, "pages/*.html")
	if err != nil {
		panic(err)
	}
	k.errorPage, k.notFoundPage = pages["error"], pages["notfound"]
	return k
}

// Pages parses every *.html file of fsys matching the patterns into its own
// template set with the layout: the map's keys are the file names without
// ".html". Extra funcs are added to the layout's (asset, field, etc.).
func (k *Kit) Pages(fsys fs.FS, funcs template.FuncMap, patterns ...string) (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, pat := range patterns {
		names, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			t, err := k.base.Clone()
			if err != nil {
				return nil, err
			}
			if _, err := t.Funcs(funcs).ParseFS(fsys, name); err != nil {
				return nil, fmt.Errorf("ui: parse %s: %w", name, err)
			}
			pages[strings.TrimSuffix(path.Base(name), ".html")] = t
		}
	}
	return pages, nil
}

// Page is what every page template receives.
type Page struct {
	Section  string             // the nav entry to mark current: "messages", "privacy"…
	Member   *glasshouse.Member // the signed-in member; nil when signed out
	Operator bool               // the member may use /admin
	// Partner names the partner signed in to the portal, on its pages:
	// the header offers the partner's dashboard and sign-out, not the
	// member's sign-in.
	Partner string
	CSRF    string // the token every POST form carries as "csrf"
	Flash   string // a one-line confirmation
	// Errors maps a form field's name to its message; "" is for the
	// whole form.
	Errors map[string]string
	Form   url.Values // the submitted values, to fill the form again
	Data   any        // the page's own data
}

// Render writes the page t with status, inside the layout, with the
// security headers. The CSRF token and the operator flag are filled in.
func (k *Kit) Render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, p *Page) {
	if p.CSRF == "" {
		p.CSRF = k.c.SignIn.CSRFToken(w, r)
	}
	if p.Member != nil && k.c.IsOperator != nil {
		ok, err := k.c.IsOperator(r.Context(), p.Member.ID)
		if err != nil {
			k.c.Logger.WarnContext(r.Context(), "operator check", "err", err)
		}
		p.Operator = ok
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		k.c.Logger.ErrorContext(r.Context(), "render page", "route", r.Pattern, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	SetHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ContentSecurityPolicy allows scripts, styles, images and fetches from the
// site itself only: no inline script or style, no framing, forms posted
// only to the site.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SetHeaders sets the security headers of a page.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// Field is the data of the "field" template: an input, its label, and its
// error from the page's Errors.
type Field struct {
	Name, Label, Type, Value, Error, Autocomplete string
	Required                                      bool
}

func (k *Kit) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": k.AssetURL,
		// date and datetime write a time in the one style of every page
		// (see Date and DateTime).
		"date":     Date,
		"datetime": DateTime,
		// day writes a UTC calendar day, such as a chart's, as text in
		// the same style: it is a day, not an instant to show in the
		// reader's zone.
		"day": func(t time.Time) string { return t.UTC().Format(DateLayout) },
		// field builds a Field from the page: its value from Form (never
		// for passwords) and its error from Errors.
		"field": func(p *Page, name, label, typ string) Field {
			f := Field{Name: name, Label: label, Type: typ, Error: p.Errors[name], Required: true}
			if typ != "password" {
				f.Value = p.Form.Get(name)
			}
			switch {
			case typ == "password" && (name == "password" || name == "current"):
				f.Autocomplete = "current-password"
			case typ == "password":
				f.Autocomplete = "new-password"
			case name == "handle":
				f.Autocomplete = "username"
			case typ == "email":
				f.Autocomplete = "email"
			}
			return f
		},
	}
}

// SignIn returns the sign-in service the pages share with the member API.
func (k *Kit) SignIn() *signin.Service { return k.c.SignIn }

// ParseForm reads a POSTed form (at most 64 KiB) and checks its CSRF
// token, bound to the browser and the session it was made for
// (signin.Service.ParseForm): EINVALID or signin.ErrCSRF.
func (k *Kit) ParseForm(w http.ResponseWriter, r *http.Request) error {
	return k.c.SignIn.ParseForm(w, r)
}

// Session returns the request's member session (its session cookie) and
// member, or an EUNAUTHORIZED error when it has none.
func (k *Kit) Session(r *http.Request) (*glasshouse.Session, *glasshouse.Member, error) {
	sess, err := k.c.SignIn.FromCookie(r)
	if err != nil {
		return nil, nil, err
	}
	m, err := k.c.Store.MemberByID(r.Context(), sess.MemberID)
	if err != nil {
		return nil, nil, err
	}
	return sess, m, nil
}

// Member returns the signed-in member, or nil when signed out.
func (k *Kit) Member(r *http.Request) *glasshouse.Member {
	_, m, err := k.Session(r)
	if err != nil {
		return nil
	}
	return m
}

// RequireMember calls h with the signed-in member, or redirects to the
// sign-in page, which comes back to this page afterwards.
func (k *Kit) RequireMember(h func(http.ResponseWriter, *http.Request, *glasshouse.Member)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, m, err := k.Session(r)
		if glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
			next := r.URL.Path
			if r.Method != http.MethodGet {
				next = "/messages"
			}
			Redirect(w, r, "/signin?next="+url.QueryEscape(next))
			return
		} else if err != nil {
			k.Fail(w, r, err)
			return
		}
		h(w, r, m)
	})
}

// Redirect answers 303 See Other to path, with the security headers of a
// page (a redirect of a GET carries a small HTML body).
func Redirect(w http.ResponseWriter, r *http.Request, path string) {
	SetHeaders(w.Header())
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// SafeNext returns next if it is a path on this site, else fallback: a
// sign-in page never redirects elsewhere. Browsers drop tabs and newlines
// from URLs and read a backslash as a slash, so any control character or
// backslash is refused, and what is left must parse as a bare path.
func SafeNext(next, fallback string) string {
	for _, c := range []byte(next) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return fallback
	}
	return next
}

// Fail answers with a plain error page for err, through httpio.NewProblem:
// its status and message when it is a *glasshouse.Error, a generic one
// (and a log line) otherwise.
func (k *Kit) Fail(w http.ResponseWriter, r *http.Request, err error) {
	p := httpio.NewProblem(k.c.Logger, r, err)
	p.SetHeader(w.Header())
	k.Render(w, r, k.errorPage, p.Status, &Page{Member: k.Member(r), Data: p.Message})
}
