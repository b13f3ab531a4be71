package web_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// TestBadBodies sends each kind of bad body to the message endpoint: each is
// rejected with its status and a message naming the problem, and nothing is
// written.
func TestBadBodies(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	path := fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID)

	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		mentions    string // in the error message
	}{
		{"malformed JSON", "application/json", `{"text": hi}`, 400, glasshouse.EINVALID, "not valid JSON"},
		{"truncated JSON", "application/json", `{"text": "hi"`, 400, glasshouse.EINVALID, "ends in the middle"},
		{"empty body", "application/json", ``, 400, glasshouse.EINVALID, "must not be empty"},
		{"unknown field", "application/json", `{"text": "hi", "sender_id": 2}`, 400, glasshouse.EINVALID, `"sender_id"`},
		{"wrong type", "application/json", `{"text": 5}`, 400, glasshouse.EINVALID, `"text" must be a string`},
		{"array instead of object", "application/json", `["hi"]`, 400, glasshouse.EINVALID, "must be an object"},
		{"trailing data", "application/json", `{"text": "hi"} {"text": "again"}`, 400, glasshouse.EINVALID, "nothing after it"},
		{"trailing garbage", "application/json", `{"text": "hi"}x`, 400, glasshouse.EINVALID, "nothing after it"},
		{"null", "application/json", `null`, 400, glasshouse.EINVALID, "must be a JSON object, not null"},
		{"null with spaces", "application/json", " \n null \t", 400, glasshouse.EINVALID, "must be a JSON object, not null"},
		{"string instead of object", "application/json", `"hi"`, 400, glasshouse.EINVALID, "must be an object"},
		{"duplicate field", "application/json", `{"text": "hi", "text": "bye"}`, 400, glasshouse.EINVALID, `"text" is given more than once`},
		{"duplicate field, other case", "application/json", `{"text": "hi", "Text": "bye"}`, 400, glasshouse.EINVALID, `"text" and "Text" are the same field`},
		{"duplicate field, same value", "application/json", `{"text": "hi", "client_txn_id": "a", "client_txn_id": "a"}`, 400, glasshouse.EINVALID, "more than once"},
		{"invalid UTF-8", "application/json", "{\"text\": \"caf\xe9\"}", 400, glasshouse.EINVALID, "UTF-8"},
		{"oversized body", "application/json", `{"text": "` + strings.Repeat("a", 70<<10) + `"}`, 413, glasshouse.ETOOLARGE, "at most"},
		{"missing content type", "", `{"text": "hi"}`, 415, glasshouse.EUNSUPPORTED, "application/json"},
		{"form content type", "application/x-www-form-urlencoded", `text=hi`, 415, glasshouse.EUNSUPPORTED, "application/json"},
		{"other charset", "application/json; charset=latin1", `{"text": "hi"}`, 415, glasshouse.EUNSUPPORTED, "application/json"},
		{"empty message", "application/json", `{"text": ""}`, 400, glasshouse.EINVALID, "empty"},
		{"white space only", "application/json", `{"text": "\n\t \u00a0\r\n"}`, 400, glasshouse.EINVALID, "only spaces"},
		{"NUL", "application/json", `{"text": "hi\u0000there"}`, 400, glasshouse.EINVALID, "control characters"},
		{"escape character", "application/json", `{"text": "\u001b[31mred"}`, 400, glasshouse.EINVALID, "control characters"},
		{"message over 8 KiB", "application/json", `{"text": "` + strings.Repeat("a", glasshouse.MaxMessageBytes+1) + `"}`, 413, glasshouse.ETOOLARGE, "at most"},
		{"client_txn_id with a space", "application/json", `{"text": "hi", "client_txn_id": "a b"}`, 400, glasshouse.EINVALID, "client_txn_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				var e struct{ Message string }
				ts.Raw(t, alice.Token, "POST", path, tt.contentType, []byte(tt.body)).MustError(t, tt.status, tt.code).Decode(t, &e)
				if !strings.Contains(e.Message, tt.mentions) {
					t.Fatalf("error message %q does not mention %q", e.Message, tt.mentions)
				}
			})
		})
	}
	// And the conversation is still empty for both.
	for _, m := range []*member{alice, bob} {
		var page glasshouse.MessagePage
		ts.Do(t, m.Token, "GET", path, nil).MustStatus(t, http.StatusOK).Decode(t, &page)
		if len(page.Messages) != 0 {
			t.Fatalf("%s sees messages %+v", m.Handle, page.Messages)
		}
	}
}

func TestCharsetUTF8Accepted(t *testing.T) {
	ts := MustServer(t)
	ts.Raw(t, "", "POST", "/api/v1/members", "application/json; charset=UTF-8",
		[]byte(`{"handle":"alice","email":"alice@example.org","password":"`+testPassword+`"}`)).MustStatus(t, http.StatusCreated)
}

func TestUnknownEndpoint(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/nothing"},
		{"PUT", "/api/v1/conversations"},
		{"GET", "/api/v2/me"},
	} {
		ts.Do(t, alice.Token, req.method, req.path, nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	}
}

func TestBadPathAndQuery(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	for _, path := range []string{
		"/api/v1/conversations/abc",
		"/api/v1/conversations/0/messages",
		"/api/v1/conversations/1/messages?limit=0",
		"/api/v1/conversations/1/messages?limit=201",
		"/api/v1/conversations/1/messages?before=x",
		"/api/v1/conversations/1/messages?after=-1",
		"/api/v1/conversations/1/messages?before=2&after=1",
		// Ids and numbers in canonical decimal only: one spelling per number.
		"/api/v1/conversations/+1",
		"/api/v1/conversations/01",
		"/api/v1/conversations/%201",
		"/api/v1/conversations/1%20",
		"/api/v1/conversations/1_0",
		"/api/v1/conversations/0x1",
		"/api/v1/conversations/-0",
		"/api/v1/conversations/9223372036854775808",
		"/api/v1/conversations/1/messages?limit=+5",
		"/api/v1/conversations/1/messages?limit=05",
		"/api/v1/conversations/1/messages?after=00",
		"/api/v1/conversations/1/messages?before=%2B2",
	} {
		ts.Do(t, alice.Token, "GET", path, nil).MustError(t, http.StatusBadRequest, glasshouse.EINVALID)
	}
}

func TestCrossOriginWriteRefused(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	ts.MustSignup(t, "bob")
	ts.MustWriteNothing(t, func() {
		ts.Raw(t, "", "POST", "/api/v1/friend-requests", "application/json", []byte(`{"handle":"bob"}`),
			"Cookie", "glasshouse_session="+alice.Token, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").
			MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
	})
}

// rawRequest writes req on a new TCP connection to ts, as is, then closes
// the writing side (so a body shorter than announced ends there) and reads
// the response.
func (ts *testServer) rawRequest(tb testing.TB, req string) *response {
	tb.Helper()
	return ts.rawExchange(tb, req, true)
}

// rawExchange writes req on a new TCP connection to ts, as is, closes the
// writing side if closeWrite, and reads the response. A request that is
// meant to succeed must keep it open: once its body is read, net/http takes
// the end of the client's stream for a client that went away and cancels
// the request's context, so the handler may fail with "context canceled".
func (ts *testServer) rawExchange(tb testing.TB, req string, closeWrite bool) *response {
	tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		tb.Fatal(err)
	}
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read response body: %v", err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestBrokenBodies sends bodies that end before their Content-Length, and
// chunked bodies that are cut short or malformed, over a raw connection:
// each is the client's fault, 400 invalid with a message saying so, and
// nothing is written. Before, each was a 500 internal error.
func TestBrokenBodies(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	host := strings.TrimPrefix(ts.URL, "http://")
	head := func(framing string) string {
		return fmt.Sprintf("POST /api/v1/conversations/%d/messages HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\n%s\r\n\r\n", conv.ID, host, alice.Token, framing)
	}
	for _, tc := range []struct {
		name, req, mentions string
	}{
		{"shorter than its Content-Length", head("Content-Length: 100") + `{"text": "hi"}`, "ended before"},
		{"empty, with a Content-Length", head("Content-Length: 14"), "ended before"},
		{"chunked, cut in a chunk", head("Transfer-Encoding: chunked") + "e\r\n{\"text\": ", "ended before"},
		{"chunked, without the last chunk", head("Transfer-Encoding: chunked") + "e\r\n{\"text\": \"hi\"}\r\n", "ended before"},
		{"chunked, size not hexadecimal", head("Transfer-Encoding: chunked") + "zz\r\n{\"text\": \"hi\"}\r\n0\r\n\r\n", "chunked"},
		{"chunked, data longer than its size", head("Transfer-Encoding: chunked") + "2\r\n{\"text\": \"hi\"}\r\n0\r\n\r\n", "chunked"},
		{"chunked, size too large", head("Transfer-Encoding: chunked") + "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "chunked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				var e struct{ Message string }
				ts.rawRequest(t, tc.req).MustError(t, http.StatusBadRequest, glasshouse.EINVALID).Decode(t, &e)
				if !strings.Contains(e.Message, tc.mentions) {
					t.Fatalf("error message %q does not mention %q", e.Message, tc.mentions)
				}
			})
		})
	}
	// A well-formed chunked body is fine, and nothing above was logged as
	// an internal error. (The connection stays open: see rawExchange.)
	ts.rawExchange(t, head("Transfer-Encoding: chunked")+"e\r\n{\"text\": \"hi\"}\r\n0\r\n\r\n", false).MustStatus(t, http.StatusCreated)
	if strings.Contains(ts.Logs.String(), "internal error") {
		t.Errorf("a broken body was logged as an internal error:\n%s", ts.Logs)
	}
}

// TestSpoofingTextRefused: a display name or group title with a control
// character or an invisible formatting character (a right-to-left
// override could make the text around it read backwards) is refused with a
// message naming it, on sign-up, profile update and group creation, and a
// field given twice is refused in a nested object too; nothing is
// written.
func TestSpoofingTextRefused(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	for _, tc := range []struct {
		name, token, method, path, body, mentions string
	}{
		{"sign-up, right-to-left override", "", "POST", "/api/v1/members",
			`{"handle": "mallory", "email": "m@example.org", "password": "` + testPassword + `", "display_name": "Bob\u202e:ecilA"}`, "U+202E"},
		{"sign-up, escape", "", "POST", "/api/v1/members",
			`{"handle": "mallory", "email": "m@example.org", "password": "` + testPassword + `", "display_name": "\u001b[2JBob"}`, "control character"},
		{"profile, right-to-left isolate", alice.Token, "PATCH", "/api/v1/me", `{"display_name": "Alice\u2067"}`, "U+2067"},
		{"profile, zero width space", alice.Token, "PATCH", "/api/v1/me", `{"display_name": "Al\u200bice"}`, "U+200B"},
		{"profile, Hangul filler", alice.Token, "PATCH", "/api/v1/me", `{"display_name": "\u3164"}`, "U+3164"},
		{"profile, newline", alice.Token, "PATCH", "/api/v1/me", `{"display_name": "Alice\nAdmin"}`, "line break"},
		{"profile, field twice in visibility", alice.Token, "PATCH", "/api/v1/me",
			`{"visibility": {"display_name": "me", "email": "me", "phone": "me", "picture_url": "me", "email": "friends"}}`, `"email" is given more than once`},
		{"group title, left-to-right override", alice.Token, "POST", "/api/v1/conversations",
			`{"kind": "group", "title": "Trip\u202d", "members": ["bob"]}`, "U+202D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				var e struct{ Message string }
				ts.Raw(t, tc.token, tc.method, tc.path, "application/json", []byte(tc.body)).MustError(t, http.StatusBadRequest, glasshouse.EINVALID).Decode(t, &e)
				if !strings.Contains(e.Message, tc.mentions) {
					t.Fatalf("error message %q does not mention %q", e.Message, tc.mentions)
				}
			})
		})
	}
	// A name in a right-to-left script, with a joiner, is fine.
	var me glasshouse.Member
	ts.Do(t, alice.Token, "PATCH", "/api/v1/me", map[string]string{"display_name": "میرزا\u200cعلی"}).MustStatus(t, http.StatusOK).Decode(t, &me)
	if me.DisplayName != "میرزا\u200cعلی" {
		t.Errorf("display name %q", me.DisplayName)
	}
}
