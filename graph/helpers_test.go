package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
	"golang.org/x/oauth2"
)

// env is the Graph API and the real authorization server on a real SQLite
// (or, for benchmarks, PostgreSQL) store, served over HTTP, with the real access recorder: every access is
// an access record and a log entry in the store, signed with key.
type env struct {
	store    *sqlstore.Store
	dbPath   string // of the SQLite store; "" on PostgreSQL
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
	path := filepath.Join(tb.TempDir(), "glasshouse.db")
	s, err := sqlite.Open(context.Background(), path, sqlstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	e := mustEnvOn(tb, s, opts...)
	e.dbPath = path
	return e
}

// mustEnvOn is MustEnv on store s, which the caller closes.
func mustEnvOn(tb testing.TB, s *sqlstore.Store, opts ...func(*graph.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{store: s}
	var err error
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

// phones numbers the members' phones.
var phones atomic.Int64

// MustMember creates a member with a distinct email and phone, and every
// field visible to friends, so that a leak to a partner would show; the
// member signs in with oauthtest.Password.
func MustMember(tb testing.TB, e *env, handle string) *glasshouse.Member {
	tb.Helper()
	n := phones.Add(1)
	m := storetest.NewMember(handle)
	m.DisplayName = strings.ToUpper(handle[:1]) + handle[1:] + " Example" // no handle in it
	m.Email = fmt.Sprintf("person%d@mail.example", n)
	m.Phone = fmt.Sprintf("+44 20 7946 %04d", n)
	m.PictureURL = fmt.Sprintf("https://pictures.example/%d.png", n)
	m.Visibility = glasshouse.Fields{DisplayName: glasshouse.VisibleToFriends, Email: glasshouse.VisibleToFriends,
		Phone: glasshouse.VisibleToFriends, PictureURL: glasshouse.VisibleToFriends}
	return storetest.MustCreateMember(tb, e.store, m, oauthtest.PasswordHash())
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
	scopes := append([]string{glasshouse.ScopeOpenID}, c.scopes...)
	if c.offline {
		scopes = append(scopes, glasshouse.ScopeOffline)
	}
	answer := oauthtest.Consent{Handle: m.Handle, Password: oauthtest.Password,
		Scopes: append([]string{}, c.scopes...), // exactly these, none if none
		Fields: url.Values{"email": {"relay"}}}
	if c.realEmail {
		answer.Fields.Set("email", "real")
	}
	for _, id := range c.conversations {
		answer.Fields.Add("conversation", strconv.FormatInt(id, 10))
	}
	return oauthtest.NewFlow(p.cfg).MustTokens(oauthtest.NewBrowser(tb, e.http.URL, redirectURI), answer, scopes...)
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
