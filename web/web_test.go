package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/syncbuf"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/web"
)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// testServer is the API on a real SQLite store in a temporary folder and a
// real hub, served by httptest.
type testServer struct {
	*httptest.Server
	Web    *web.Server
	Store  *sqlstore.Store
	Hub    *realtime.Hub
	Logs   *syncbuf.Buffer
	dbPath string
}

// MustServer starts a test server; options adjust its config.
func MustServer(tb testing.TB, options ...func(*web.Config)) *testServer {
	tb.Helper()
	return mustServer(tb, realtime.NewHub(0), options...)
}

func mustServer(tb testing.TB, hub *realtime.Hub, options ...func(*web.Config)) *testServer {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "glasshouse.db")
	store, err := sqlite.Open(context.Background(), path, sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	logs := &syncbuf.Buffer{}
	cfg := web.Config{
		Store:   store,
		Hub:     hub,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DBStats: store.DBStats,
	}
	for _, o := range options {
		o(&cfg)
	}
	if cfg.SignIn == nil {
		withSignIn(func(*signin.Config) {})(&cfg)
	}
	srv := web.New(cfg)
	ts := &testServer{Server: httptest.NewServer(srv.Handler()), Web: srv, Store: store, Hub: hub, Logs: logs, dbPath: path}
	tb.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		hub.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return ts
}

// withSignIn gives the server a sign-in service on its store and clock
// (an option that sets Now goes first), as adjust changes its config.
func withSignIn(adjust func(*signin.Config)) func(*web.Config) {
	return func(c *web.Config) {
		sc := signin.Config{Store: c.Store.(signin.Store), Key: make([]byte, 32), Now: c.Now}
		adjust(&sc)
		c.SignIn = signin.New(sc)
	}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode reads the JSON body into v.
func (r *response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// MustStatus fails unless the status is want.
func (r *response) MustStatus(tb testing.TB, want int) *response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status %d, body %s; want %d", r.Status, r.Body, want)
	}
	return r
}

// MustError fails unless the response is the JSON error code with status.
func (r *response) MustError(tb testing.TB, status int, code string) *response {
	tb.Helper()
	r.MustStatus(tb, status)
	var e struct{ Error, Message string }
	r.Decode(tb, &e)
	if e.Error != code || e.Message == "" {
		tb.Fatalf("error body %s; want code %q and a message", r.Body, code)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("error Content-Type %q; want application/json", ct)
	}
	return r
}

// Raw sends a request with the given content type and raw body.
func (ts *testServer) Raw(tb testing.TB, token, method, path, contentType string, body []byte, header ...string) *response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Do sends body (nil for none) as JSON.
func (ts *testServer) Do(tb testing.TB, token, method, path string, body any) *response {
	tb.Helper()
	if body == nil {
		return ts.Raw(tb, token, method, path, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return ts.Raw(tb, token, method, path, "application/json", b)
}

// member is a signed-up, signed-in test member.
type member struct {
	glasshouse.Member
	Token string
}

// MustSignup creates a member and returns it.
func (ts *testServer) MustSignup(tb testing.TB, handle string) *glasshouse.Member {
	tb.Helper()
	var m glasshouse.Member
	ts.Do(tb, "", "POST", "/api/v1/members", glasshouse.Signup{
		Handle: handle, Email: handle + "@example.org", Password: testPassword, DisplayName: strings.ToUpper(handle),
	}).MustStatus(tb, http.StatusCreated).Decode(tb, &m)
	return &m
}

// MustLogin opens a session and returns its token.
func (ts *testServer) MustLogin(tb testing.TB, handle, password string) string {
	tb.Helper()
	var out struct {
		Token  string
		Member glasshouse.Member
	}
	ts.Do(tb, "", "POST", "/api/v1/sessions", map[string]string{"handle": handle, "password": password}).
		MustStatus(tb, http.StatusCreated).Decode(tb, &out)
	if out.Token == "" || out.Member.Handle != handle {
		tb.Fatalf("login answered %+v", out)
	}
	return out.Token
}

// MustMember signs a new member up and in.
func (ts *testServer) MustMember(tb testing.TB, handle string) *member {
	tb.Helper()
	m := ts.MustSignup(tb, handle)
	return &member{Member: *m, Token: ts.MustLogin(tb, handle, testPassword)}
}

// MustFriends makes a and b friends through the API.
func (ts *testServer) MustFriends(tb testing.TB, a, b *member) {
	tb.Helper()
	var out struct{ Request glasshouse.FriendRequest }
	ts.Do(tb, a.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": b.Handle}).
		MustStatus(tb, http.StatusCreated).Decode(tb, &out)
	ts.Do(tb, b.Token, "POST", fmt.Sprintf("/api/v1/friend-requests/%d/accept", out.Request.ID), nil).
		MustStatus(tb, http.StatusNoContent)
}

// MustDirect opens the direct conversation of a and b.
func (ts *testServer) MustDirect(tb testing.TB, a, b *member) *glasshouse.Conversation {
	tb.Helper()
	var c glasshouse.Conversation
	ts.Do(tb, a.Token, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": b.Handle}).
		MustStatus(tb, http.StatusCreated).Decode(tb, &c)
	return &c
}

// MustSend sends a message.
func (ts *testServer) MustSend(tb testing.TB, from *member, conversationID int64, text string) *glasshouse.Message {
	tb.Helper()
	var m glasshouse.Message
	ts.Do(tb, from.Token, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conversationID),
		map[string]string{"text": text}).MustStatus(tb, http.StatusCreated).Decode(tb, &m)
	return &m
}

// MustSnapshot dumps every row of every table of the database, so that a
// test can check that a rejected request wrote nothing.
func (ts *testServer) MustSnapshot(tb testing.TB) string {
	tb.Helper()
	// The driver "sqlite" is modernc.org/sqlite, registered by package sqlite.
	db, err := sql.Open("sqlite", "file:"+ts.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&out, "%s %v\n", table, cols)
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&out, "  %v\n", vals)
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
	}
	return out.String()
}

// MustWriteNothing runs f and fails if the database changed.
func (ts *testServer) MustWriteNothing(tb testing.TB, f func()) {
	tb.Helper()
	before := ts.MustSnapshot(tb)
	f()
	if after := ts.MustSnapshot(tb); after != before {
		tb.Fatalf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// eventually retries f until it returns true or 5 seconds pass.
func eventually(tb testing.TB, what string, f func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
