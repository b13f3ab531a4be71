package web_test

import (
	"fmt"
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
