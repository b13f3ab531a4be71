package demoapp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Credentials are one app's OAuth client, as the operator registered it.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// App describes one demo partner.
type App struct {
	Slug    string   // path under /demo/
	Name    string   // shown to members
	Tagline string   // one line on its home page
	Scopes  []string // data scopes it asks for
	Purpose string   // the agreement's purpose
}

// Apps are the demo partners, in the order the index shows them.
var Apps = []App{
	{Slug: "streamflix", Name: "Streamflix", Tagline: "Films worth sharing.", Scopes: []string{"profile", "friends", "messages.send"},
		Purpose: "Let you tell a friend what you are watching, from inside Streamflix. Streamflix cannot read your messages."},
	{Slug: "shopzon", Name: "Shopzon", Tagline: "Everything, delivered.", Scopes: []string{"profile", "email"},
		Purpose: "Create your Shopzon account and send your order confirmations."},
	{Slug: "searchly", Name: "Searchly", Tagline: "Find what your friends find.", Scopes: []string{"friends"},
		Purpose: "Show you which of your friends also use Searchly."},
}

// Films is Streamflix's small catalogue.
var Films = []string{"Metropolis", "Seven Samurai", "Spirited Away", "Paris, Texas", "The Third Man", "Cléo from 5 to 7"}

// film is a film of the catalogue as Streamflix shows it.
type film struct {
	Title, Year, Director string
	Poster                int // the poster's colours: poster-0 to poster-5 in demo.css
}

// catalogue is Films with their credits, in the same order.
var catalogue = []film{
	{"Metropolis", "1927", "Fritz Lang", 0},
	{"Seven Samurai", "1954", "Akira Kurosawa", 1},
	{"Spirited Away", "2001", "Hayao Miyazaki", 2},
	{"Paris, Texas", "1984", "Wim Wenders", 3},
	{"The Third Man", "1949", "Carol Reed", 4},
	{"Cléo from 5 to 7", "1962", "Agnès Varda", 5},
}

// product is one of Shopzon's goods.
type product struct{ Name, Price, Image, Note string }

var products = []product{
	{"Stovetop kettle", "£39.00", "kettle.svg", "Enamelled steel, 1.7 litres"},
	{"Wireless headphones", "£89.00", "headphones.svg", "30 hours of battery"},
	{"City backpack", "£54.00", "backpack.svg", "Waterproof, fits a 15\" laptop"},
	{"Desk lamp", "£29.00", "lamp.svg", "Warm LED, dimmable"},
}

// result is a page that Searchly knows: the demo world's small web.
type result struct {
	Title, Path, Snippet string
	OnPlatform           bool // Path is on glasshouse, not under /demo/
}

var searchIndex = []result{
	{"Streamflix: films worth sharing", "/demo/streamflix/", "Classic and modern cinema. Recommend a film to a friend through glasshouse.", false},
	{"Shopzon: everything, delivered", "/demo/shopzon/", "Kettles, headphones, backpacks and lamps, delivered to your door. Order updates by email.", false},
	{"Searchly: find what your friends find", "/demo/searchly/", "Search the web and see which of your friends search with Searchly too.", false},
	{"glasshouse privacy center", "/privacy", "See every app connected to your glasshouse account, each access it made, and revoke it.", true},
	{"glasshouse for developers", "/developers", "The partner portal: agreements, scopes, usage and receipts for apps that use glasshouse.", true},
	{"glasshouse transparency log checkpoint", "/log/checkpoint", "The signed checkpoint of the public log of every partner access to member data.", true},
}

// search returns the pages whose title or snippet holds every word of q.
func search(q, platform string) []result {
	words := strings.Fields(strings.ToLower(q))
	var out []result
	for _, r := range searchIndex {
		text := strings.ToLower(r.Title + " " + r.Snippet)
		if len(words) > 0 && !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(text, w) }) {
			if r.OnPlatform {
				r.Path = platform + r.Path
			}
			out = append(out, r)
		}
	}
	return out
}

// scopeWords say what each scope a demo app asks for gives it.
var scopeWords = map[string]string{
	"profile":       "your name and picture",
	"email":         "an email address (a private relay unless you choose your real one)",
	"phone":         "your phone number",
	"friends":       "which of your friends use it too",
	"messages.send": "sending a message to a friend when you ask",
	"messages.read": "reading the conversations you pick",
}

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"static":    staticURL,
	"scopeWord": func(s string) string { return cmp.Or(scopeWords[s], s) },
	"isRelay":   func(email string) bool { return strings.Contains(email, "@relay.") },
}).ParseFS(templateFS, "templates/*.html"))

// asset is a file of static/, served under /demo/static/{version}/.
type asset struct {
	body       []byte
	hash, kind string // hash: the first 16 hex digits of its SHA-256, its URL's version
}

var assets = func() map[string]asset {
	out := map[string]asset{}
	entries, _ := fs.ReadDir(staticFS, "static")
	for _, e := range entries {
		b, _ := fs.ReadFile(staticFS, "static/"+e.Name())
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:8]), kind: mime.TypeByExtension(path.Ext(e.Name()))}
	}
	return out
}()

// staticURL is the versioned URL of a static file; it panics for an
// unknown name, so that a typo fails every test that renders the page.
func staticURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("demoapp: no static file " + name)
	}
	return "/demo/static/" + a.hash + "/" + name
}

// Config wires the apps to a platform.
type Config struct {
	Platform    string                 // the platform's base URL, e.g. http://127.0.0.1:8080
	Credentials map[string]Credentials // by App.Slug
	Logger      *slog.Logger
	HTTPClient  *http.Client // for calls to the platform (default: 10 s timeout)
	// SecureCookies marks the apps' session cookies Secure even on plain
	// HTTP requests (behind a TLS-terminating proxy).
	SecureCookies bool
}

// Server serves the demo apps.
type Server struct {
	cfg Config
	csp string // the pages' Content-Security-Policy

	mu       sync.Mutex
	sessions map[string]*session // by session cookie; bounded by maxSessions
}

// maxSessions bounds the demo apps' memory: past it, every browser starts
// over (signed out of the demo apps, not of the platform).
const maxSessions = 10000

// session is one browser's state at one app: nothing of it is shared with
// the platform except through OAuth.
type session struct {
	mu       sync.Mutex
	app      string
	verifier string // PKCE
	state    string
	tokens   oauth2.TokenSource // refreshes and keeps the newest token; nil until connected
	granted  []string           // the scopes the member granted, from the token response
	flash    string
}

// New returns the demo apps' server.
func New(cfg Config) *Server {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The pages load their styles and images from here, run no script, and
	// post their forms here; connect's redirect goes on to the platform's
	// /authorize, and Chrome checks form-action on redirects too.
	formAction := "'self'"
	if u, err := url.Parse(cfg.Platform); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return &Server{cfg: cfg, sessions: map[string]*session{},
		csp: "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"}
}

// Register mounts the apps under /demo/.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo/{$}", s.index)
	mux.HandleFunc("GET /demo/{app}/{$}", s.handle(s.home))
	mux.HandleFunc("POST /demo/{app}/connect", s.handle(s.connect))
	mux.HandleFunc("GET /demo/{app}/callback", s.handle(s.callback))
	mux.HandleFunc("POST /demo/{app}/share", s.handle(s.share))
	mux.HandleFunc("POST /demo/{app}/disconnect", s.handle(s.disconnect))
	// The version is a path segment, not a query: /demo/static/{name}
	// would overlap /demo/{app}/callback.
	mux.HandleFunc("GET /demo/static/{version}/{name}", serveStatic)
}

// serveStatic serves a static file: with the current version in the URL,
// cached for a year; without it, revalidated every time.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.kind)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("ETag", `"`+a.hash+`"`)
	if r.PathValue("version") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(a.body)
}

// appHandler serves one app's page for the browser's session there.
type appHandler func(w http.ResponseWriter, r *http.Request, app *App, conf *oauth2.Config, sess *session)

// handle resolves the app named in the path (404 if it is not registered)
// and the browser's session at it.
func (s *Server) handle(h appHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		app, conf, ok := s.app(r)
		if !ok {
			http.NotFound(w, r)
			return
		}
		h(w, r, app, conf, s.sessionFor(w, r, app.Slug))
	}
}

func (s *Server) app(r *http.Request) (*App, *oauth2.Config, bool) {
	for i := range Apps {
		a := &Apps[i]
		if a.Slug != r.PathValue("app") {
			continue
		}
		creds, ok := s.cfg.Credentials[a.Slug]
		if !ok {
			return nil, nil, false
		}
		return a, s.oauthConfig(a, creds), true
	}
	return nil, nil, false
}

func (s *Server) oauthConfig(a *App, c Credentials) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.cfg.Platform + "/authorize",
			TokenURL:  s.cfg.Platform + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: RedirectURI(s.cfg.Platform, a.Slug),
		Scopes:      append([]string{"openid", "offline_access"}, a.Scopes...),
	}
}

// RedirectURI is the redirect URI an app registers for a platform.
func RedirectURI(platform, slug string) string {
	return platform + "/demo/" + slug + "/callback"
}

// sessionFor returns the browser's session at the app, creating one.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, app string) *session {
	name := "demo_" + app
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := r.Cookie(name); err == nil {
		if sess, ok := s.sessions[c.Value]; ok {
			return sess
		}
	}
	if len(s.sessions) >= maxSessions {
		s.sessions = map[string]*session{}
	}
	id := random()
	sess := &session{app: app}
	s.sessions[id] = sess
	http.SetCookie(w, &http.Cookie{Name: name, Value: id, Path: "/demo/" + app + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.cfg.SecureCookies || r.TLS != nil})
	return sess
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	var apps []App
	for _, a := range Apps {
		if _, ok := s.cfg.Credentials[a.Slug]; ok {
			apps = append(apps, a)
		}
	}
	s.render(w, "index.html", map[string]any{"Apps": apps})
}

// homeView is what an app's home page shows.
type homeView struct {
	App       *App
	Platform  string // the platform's base URL, for links to it
	Connected bool
	Me        *me
	Friends   []friend
	Flash     string
	Error     string

	Films    []film    // Streamflix
	Film     string    // Streamflix: the film to recommend, picked from the catalogue
	Products []product // Shopzon
	Query    string    // Searchly: the search
	Results  []result  // Searchly: its results
}

type me struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Picture string `json:"picture"`
	Email   string `json:"email"`
}

type friend struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, app *App, _ *oauth2.Config, sess *session) {
	sess.mu.Lock()
	q := r.URL.Query()
	v := homeView{App: app, Platform: s.cfg.Platform, Flash: sess.flash, Films: catalogue, Film: q.Get("film"),
		Products: products, Query: q.Get("q"), Results: search(q.Get("q"), s.cfg.Platform)}
	sess.flash = ""
	tokens, granted := sess.tokens, sess.granted
	sess.mu.Unlock()
	if tokens != nil {
		v.Connected = true
		client := s.client(r.Context(), tokens)
		var ge *graphError
		// A well-behaved app asks only for what the member granted it: a
		// call outside the grant would be refused, and logged as such.
		if slices.Contains(granted, "profile") || slices.Contains(granted, "email") {
			v.Me = &me{}
			if err := s.graph(client, "GET", "/graph/v1/me", nil, v.Me); err != nil {
				v.Me, v.Error = nil, err.Error()
				errors.As(err, &ge)
			}
		}
		if slices.Contains(granted, "friends") && v.Error == "" {
			var fs struct{ Friends []friend }
			if err := s.graph(client, "GET", "/graph/v1/me/friends", nil, &fs); err != nil {
				v.Error = err.Error()
				errors.As(err, &ge)
			}
			v.Friends = fs.Friends
		}
		// The member disconnected the app at glasshouse (or their consent
		// ended): its tokens are dead, so it forgets them, as a real app
		// would, and offers to connect again.
		if ge != nil && ge.Code == "invalid_token" {
			sess.mu.Lock()
			sess.tokens = nil
			sess.mu.Unlock()
			v.Connected, v.Me, v.Friends = false, nil, nil
			v.Error += " You are no longer connected."
		}
	}
	s.render(w, app.Slug+".html", v)
}

// connect starts the authorization code flow with PKCE.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, app *App, conf *oauth2.Config, sess *session) {
	sess.mu.Lock()
	sess.verifier, sess.state = oauth2.GenerateVerifier(), random()
	u := conf.AuthCodeURL(sess.state, oauth2.S256ChallengeOption(sess.verifier), oauth2.SetAuthURLParam("nonce", random()))
	sess.mu.Unlock()
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// callback exchanges the code for tokens.
func (s *Server) callback(w http.ResponseWriter, r *http.Request, app *App, conf *oauth2.Config, sess *session) {
	q := r.URL.Query()
	sess.mu.Lock()
	defer sess.mu.Unlock()
	switch {
	case q.Get("error") != "":
		sess.flash = "Not connected: " + q.Get("error") + " " + q.Get("error_description")
	case sess.state == "" || q.Get("state") != sess.state:
		sess.flash = "Not connected: the sign-in response did not match this browser's request."
	default:
		ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.cfg.HTTPClient)
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(sess.verifier))
		if err != nil {
			s.cfg.Logger.Warn("demo app token exchange failed", "app", app.Slug, "err", err)
			sess.flash = "Not connected: the token exchange failed."
		} else {
			// One token source per session: it refreshes when needed and
			// keeps the rotated refresh token (a spent one is a replay).
			sess.tokens = conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, s.cfg.HTTPClient), tok)
			sess.granted = grantedScopes(tok, app)
			sess.flash = "Connected to glasshouse."
		}
	}
	sess.state, sess.verifier = "", ""
	http.Redirect(w, r, "/demo/"+app.Slug+"/", http.StatusSeeOther)
}

// grantedScopes returns the scopes the member granted, as the token
// response's scope says (RFC 6749 §5.1: present when it differs from the
// request); without it, those the app asked for.
func grantedScopes(tok *oauth2.Token, app *App) []string {
	if scope, ok := tok.Extra("scope").(string); ok {
		return strings.Fields(scope)
	}
	return app.Scopes
}

// share sends "I'm watching X" to a friend through the Graph API.
func (s *Server) share(w http.ResponseWriter, r *http.Request, app *App, _ *oauth2.Config, sess *session) {
	sess.mu.Lock()
	tokens := sess.tokens
	sess.mu.Unlock()
	flash := "Connect to glasshouse first."
	if tokens != nil {
		film := r.FormValue("film")
		if !slices.Contains(Films, film) {
			film = Films[0]
		}
		client := s.client(r.Context(), tokens)
		body := map[string]string{"to": r.FormValue("to"), "text": "I'm watching " + film + " on Streamflix. You'd like it!"}
		var sent struct{ Conversation string }
		if err := s.graph(client, "POST", "/graph/v1/me/messages", body, &sent); err != nil {
			flash = "Not shared. " + err.Error()
		} else {
			flash = "Shared " + film + "."
			// The overreach that the 2010s deals allowed: read the
			// conversation it just wrote to. glasshouse refuses (Streamflix's
			// agreement has no messages.read) and the log shows the attempt.
			if err := s.graph(client, "GET", "/graph/v1/me/conversations/"+url.PathEscape(sent.Conversation)+"/messages", nil, nil); err != nil {
				flash += " Then, as the old deals allowed, Streamflix tried to read that conversation. " + err.Error() + " The attempt is recorded in the public log."
			}
		}
	}
	sess.mu.Lock()
	sess.flash = flash
	sess.mu.Unlock()
	http.Redirect(w, r, "/demo/"+app.Slug+"/", http.StatusSeeOther)
}

func (s *Server) disconnect(w http.ResponseWriter, r *http.Request, app *App, _ *oauth2.Config, sess *session) {
	sess.mu.Lock()
	tokens := sess.tokens
	sess.tokens, sess.flash = nil, "Disconnected."
	sess.mu.Unlock()
	if tokens != nil {
		if tok, err := tokens.Token(); err == nil {
			s.revoke(r.Context(), app.Slug, tok.RefreshToken)
		}
	}
	http.Redirect(w, r, "/demo/"+app.Slug+"/", http.StatusSeeOther)
}

// client calls the platform with the session's tokens.
func (s *Server) client(ctx context.Context, tokens oauth2.TokenSource) *http.Client {
	return oauth2.NewClient(context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient), tokens)
}

// revoke tells the platform to revoke a refresh token and its family
// (RFC 7009), as a partner should when a user disconnects.
func (s *Server) revoke(ctx context.Context, slug, token string) {
	creds := s.cfg.Credentials[slug]
	req, err := http.NewRequestWithContext(ctx, "POST", s.cfg.Platform+"/revoke",
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(creds.ClientID), url.QueryEscape(creds.ClientSecret))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		s.cfg.Logger.Warn("demo app revocation failed", "app", slug, "err", err)
		return
	}
	resp.Body.Close()
}

// graph calls the Graph API and decodes the JSON reply, turning an error
// reply into an error that says what the platform said.
func (s *Server) graph(client *http.Client, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.cfg.Platform+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The refresh token was refused: revoked, expired or replayed.
			return &graphError{Code: "invalid_token", Message: "this app's access to your account has ended (you disconnected it, or your consent expired)."}
		}
		return errors.New("glasshouse cannot be reached; try again in a moment.")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error, Message string }
		json.Unmarshal(b, &e)
		return &graphError{Code: e.Error, Message: e.Message}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// graphError is a refusal from the Graph API.
type graphError struct{ Code, Message string }

// Error says the refusal in the platform's words, for people: the code is
// for the app's logic.
func (e *graphError) Error() string {
	if e.Message == "" {
		return "glasshouse refused the request."
	}
	return "glasshouse refused: " + e.Message
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.cfg.Logger.Error("demo app template", "template", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // the pages show what the member shared
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	w.Write(buf.Bytes())
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
