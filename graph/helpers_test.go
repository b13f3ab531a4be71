package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"golang.org/x/oauth2"
)

// env is the Graph API and the real authorization server on a real SQLite
// store, served over HTTP, with the real access recorder: every access is
// an access record and a log entry in the store, signed with key.
type env struct {
	store    *sqlstore.Store
	dbPath   string
	oauth    *oauth.Server
	http     *httptest.Server
	key      *accesslog.Key
	master   []byte
	recorder *accesslog.Recorder
	feeder   atomic.Pointer[accesslog.Feeder] // set by MustFeeder
}

// testLogKey is the log key of every env: generating one is cheap, but one
// is enough.
var testLogKey = sync.OnceValues(func() (*accesslog.Key, error) {
	_, k, err := accesslog.NewKey(accesslog.Origin("glasshouse.test"), nil)
	return k, err
})

// MustEnv starts the servers; opts adjust the Graph API's config. The
// ceiling is every data scope.
func MustEnv(tb testing.TB, opts ...func(*graph.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{dbPath: filepath.Join(tb.TempDir(), "glasshouse.db")}
	var err error
	e.store, err = sqlite.Open(ctx, e.dbPath, sqlstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { e.store.Close() })
	if e.key, err = testLogKey(); err != nil {
		tb.Fatal(err)
	}
	// The master key is kept as cmd/glasshouse keeps it: a store secret.
	e.master, err = e.store.Secret(ctx, "accesslog-master", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: e.store, MasterKey: e.master, Signer: e.key.Signer,
		Notify: func() {
			if f := e.feeder.Load(); f != nil {
				f.Notify()
			}
		}})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	e.http = httptest.NewServer(mux)
	tb.Cleanup(e.http.Close)
	signIn := signin.New(signin.Config{Store: e.store, Key: make([]byte, 32)})
	e.oauth, err = oauth.New(oauth.Config{Issuer: e.http.URL, Store: e.store, SignIn: signIn, Ceiling: glasshouse.DataScopes})
	if err != nil {
		tb.Fatalf("oauth.New: %v", err)
	}
	e.oauth.Register(mux)
	// No rate limit unless a test sets one: the tests send bursts.
	cfg := graph.Config{Store: e.store, Verifier: e.oauth, Recorder: e.recorder, Ceiling: glasshouse.DataScopes,
		RateLimit: ratelimit.Config{Every: time.Nanosecond, Burst: 1 << 30}}
	for _, o := range opts {
		o(&cfg)
	}
	api, err := graph.New(cfg)
	if err != nil {
		tb.Fatalf("graph.New: %v", err)
	}
	api.Register(mux)
	return e
}

// MustFeeder starts a real feeder on a log in a temporary folder, draining
// the store's outbox; it is stopped and closed when the test ends.
func MustFeeder(tb testing.TB, e *env) *accesslog.Feeder {
	tb.Helper()
	f, err := accesslog.NewFeeder(context.Background(), accesslog.FeederConfig{Dir: filepath.Join(tb.TempDir(), "log"),
		Key: e.key, Outbox: accesslog.StoreOutbox{Store: e.store}, CheckpointInterval: 100 * time.Millisecond,
		PollInterval: 50 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	e.feeder.Store(f)
	tb.Cleanup(func() {
		cancel()
		<-done
		f.Close(context.Background())
	})
	return f
}

// Records returns m's access records, oldest first.
func (e *env) Records(tb testing.TB, m *glasshouse.Member) []*glasshouse.AccessRecord {
	tb.Helper()
	recs, err := e.store.MemberAccess(context.Background(), m.ID, 0, glasshouse.MaxPageSize)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// BreakRecording makes every later access record fail to commit, as a full
// disk would: a trigger refuses each insert into the outbox, after the
// counter and the access record were written in the same transaction.
func (e *env) BreakRecording(tb testing.TB) {
	tb.Helper()
	db, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER break_recording BEFORE INSERT ON access_outbox
		BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		tb.Fatal(err)
	}
}

// partner is a registered, approved partner and its OAuth client.
type partner struct {
	*glasshouse.Partner
	cfg *oauth2.Config
}

const redirectURI = "http://127.0.0.1:9/callback"

// MustPartner registers and approves a partner with every data scope and a
// security assessment a month old.
func MustPartner(tb testing.TB, e *env, name string) *partner {
	tb.Helper()
	ctx := context.Background()
	id, secret := oauth.NewClientCredentials()
	now := time.Now()
	_, err := e.store.CreatePartner(ctx, glasshouse.NewPartner{
		Name:               name,
		RedirectURIs:       []string{redirectURI},
		Scopes:             glasshouse.DataScopes,
		Purpose:            "Testing " + name + " with care.",
		RetentionDays:      30,
		ExpiresAt:          now.Add(365 * 24 * time.Hour),
		SecurityAssessedAt: now.Add(-30 * 24 * time.Hour),
	}, id, oauth.HashSecret(secret))
	if err != nil {
		tb.Fatalf("CreatePartner(%s): %v", name, err)
	}
	if _, err := e.store.ApproveAgreement(ctx, id, now); err != nil {
		tb.Fatalf("ApproveAgreement(%s): %v", name, err)
	}
	p, err := e.store.PartnerByClientID(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return &partner{Partner: p, cfg: &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.http.URL + "/authorize",
			TokenURL:  e.http.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}}
}

const testPassword = "correct horse battery"

// passwordHash is testPassword's hash, computed once: argon2id is slow on
// purpose.
var passwordHash = sync.OnceValue(func() string { return password.Hash(testPassword) })

// phones numbers the members' phones.
var phones atomic.Int64

// MustMember creates a member with a distinct email and phone, and every
// field visible to friends, so that a leak to a partner would show.
func MustMember(tb testing.TB, e *env, handle string) *glasshouse.Member {
	tb.Helper()
	n := phones.Add(1)
	m := &glasshouse.Member{
		Handle:      handle,
		DisplayName: strings.ToUpper(handle[:1]) + handle[1:] + " Example", // no handle in it
		Email:       fmt.Sprintf("person%d@mail.example", n),
		Phone:       fmt.Sprintf("+44 20 7946 %04d", n),
		PictureURL:  fmt.Sprintf("https://pictures.example/%d.png", n),
		Visibility: glasshouse.Fields{DisplayName: glasshouse.VisibleToFriends, Email: glasshouse.VisibleToFriends,
			Phone: glasshouse.VisibleToFriends, PictureURL: glasshouse.VisibleToFriends},
	}
	if err := e.store.CreateMember(context.Background(), m, passwordHash()); err != nil {
		tb.Fatalf("CreateMember(%s): %v", handle, err)
	}
	return m
}

// MustFriends makes a and b friends.
func MustFriends(tb testing.TB, e *env, a, b *glasshouse.Member) {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.store.RequestFriend(ctx, a.ID, b.Handle); err != nil {
		tb.Fatalf("request: %v", err)
	}
	if _, err := e.store.RequestFriend(ctx, b.ID, a.Handle); err != nil {
		tb.Fatalf("accept: %v", err)
	}
}

// MustDirect returns the 1:1 conversation of a and b.
func MustDirect(tb testing.TB, e *env, a, b *glasshouse.Member) int64 {
	tb.Helper()
	c, _, err := e.store.CreateDirect(context.Background(), a.ID, b.Handle)
	if err != nil {
		tb.Fatalf("CreateDirect: %v", err)
	}
	return c.ID
}

// MustSend sends text from m in conversation c through the core store.
func MustSend(tb testing.TB, e *env, m *glasshouse.Member, c int64, text string) {
	tb.Helper()
	if _, _, err := e.store.SendMessage(context.Background(), glasshouse.NewMessage{ConversationID: c, SenderID: m.ID, Text: text}); err != nil {
		tb.Fatalf("SendMessage: %v", err)
	}
}

// consent is what a member does on the consent page.
type consent struct {
	scopes        []string // the data scopes the partner asks for, all ticked
	realEmail     bool
	conversations []int64 // picked for messages.read
	offline       bool    // ask for offline_access too: a refresh token
}

// MustToken runs the real authorization code flow with PKCE for m at p, and
// returns the access token.
func MustToken(tb testing.TB, e *env, p *partner, m *glasshouse.Member, c consent) string {
	tb.Helper()
	return MustTokens(tb, e, p, m, c).AccessToken
}

// MustTokens is MustToken returning every token of the exchange.
func MustTokens(tb testing.TB, e *env, p *partner, m *glasshouse.Member, c consent) *oauth2.Token {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{tb: tb, client: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
	verifier, state := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()[:22]
	cfg := *p.cfg
	cfg.Scopes = append([]string{glasshouse.ScopeOpenID}, c.scopes...)
	if c.offline {
		cfg.Scopes = append(cfg.Scopes, glasshouse.ScopeOffline)
	}
	page := b.get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", state)))
	page = b.submit(page, url.Values{"handle": {m.Handle}, "password": {testPassword}})
	form := url.Values{"action": {"allow"}, "scope": c.scopes, "email": {"relay"}}
	if c.realEmail {
		form.Set("email", "real")
	}
	for _, id := range c.conversations {
		form.Add("conversation", strconv.FormatInt(id, 10))
	}
	resp := b.submit(page, form)
	loc, err := url.Parse(resp.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != state {
		tb.Fatalf("consent: want a redirect with a code, got %d %s:\n%s", resp.status, resp.header.Get("Location"), resp.body)
	}
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		tb.Fatalf("exchange: %v", err)
	}
	return tok
}

// browser is a member's browser: it keeps cookies and stops at the
// partner's redirect URI.
type browser struct {
	tb     testing.TB
	client *http.Client
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (b *browser) do(req *http.Request) *page {
	b.tb.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &page{status: resp.StatusCode, header: resp.Header, body: string(body), url: resp.Request.URL}
}

func (b *browser) get(u string) *page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

var (
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// submit posts the page's form with values and its CSRF token.
func (b *browser) submit(p *page, values url.Values) *page {
	b.tb.Helper()
	action, csrf := actionRE.FindStringSubmatch(p.body), csrfRE.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		b.tb.Fatalf("no form on the page at %s (status %d):\n%s", p.url, p.status, p.body)
	}
	target, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.tb.Fatal(err)
	}
	values.Set("csrf", html.UnescapeString(csrf[1]))
	req, _ := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// response is a Graph API response.
type response struct {
	tb     testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// call sends a Graph API request with token ("" for none) and a raw body
// (nil for none) sent as JSON.
func (e *env) call(tb testing.TB, method, path, token string, body []byte) *response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{tb: tb, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (e *env) get(tb testing.TB, path, token string) *response {
	tb.Helper()
	return e.call(tb, http.MethodGet, path, token, nil)
}

func (e *env) post(tb testing.TB, path, token string, v any) *response {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return e.call(tb, http.MethodPost, path, token, b)
}

// OK fails unless the status is want, and decodes the body into v.
func (r *response) OK(want int, v any) *response {
	r.tb.Helper()
	if r.Status != want {
		r.tb.Fatalf("status %d, body %s; want %d", r.Status, r.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			r.tb.Fatalf("decode %s: %v", r.Body, err)
		}
	}
	return r
}

// Error fails unless the response is the JSON error code with status and
// a message.
func (r *response) Error(status int, code string) *response {
	r.tb.Helper()
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != status || body.Error != code || body.Message == "" {
		r.tb.Fatalf("got %d %s; want %d with error %q", r.Status, r.Body, status, code)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		r.tb.Errorf("Content-Type %q", ct)
	}
	return r
}

// friendsBody, meBody, sentBody and messagesBody are the Graph API's
// answers as a partner reads them.
type (
	friendsBody struct {
		Friends []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Picture string `json:"picture"`
		} `json:"friends"`
		Next string `json:"next"`
	}
	meBody struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		Picture       string   `json:"picture"`
		Email         string   `json:"email"`
		Phone         string   `json:"phone"`
		Conversations []string `json:"conversations"`
	}
	sentBody struct {
		ID           string `json:"id"`
		Conversation string `json:"conversation"`
	}
	messagesBody struct {
		Messages []struct {
			ID     string    `json:"id"`
			From   string    `json:"from"`
			Text   string    `json:"text"`
			SentAt time.Time `json:"sent_at"`
		} `json:"messages"`
		Next string `json:"next"`
	}
)
