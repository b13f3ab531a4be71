package graph_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/storetest"
)

// world is a partner and six members (handles of five letters or more, so
// that none appears by chance in a random id). alice is friends with bob, carol,
// dave and erin; frank is no one's friend. bob granted the partner friends
// and profile, carol profile only, erin friends only, frank friends and
// profile; dave never granted it.
type world struct {
	*env
	p                                    *partner
	alice, bob, carol, dave, erin, frank *glasshouse.Member
}

func MustWorld(tb testing.TB, opts ...func(*graph.Config)) *world {
	tb.Helper()
	e := MustEnv(tb, opts...)
	w := &world{env: e, p: MustPartner(tb, e, "Searchly")}
	w.alice, w.bob, w.carol = MustMember(tb, e, "alice"), MustMember(tb, e, "bobby"), MustMember(tb, e, "carol")
	w.dave, w.erin, w.frank = MustMember(tb, e, "david"), MustMember(tb, e, "emily"), MustMember(tb, e, "frank")
	for _, f := range []*glasshouse.Member{w.bob, w.carol, w.dave, w.erin} {
		storetest.MustFriends(tb, e.store, w.alice, f)
	}
	MustToken(tb, e, w.p, w.bob, consent{scopes: []string{"friends", "profile"}})
	MustToken(tb, e, w.p, w.carol, consent{scopes: []string{"profile"}})
	MustToken(tb, e, w.p, w.erin, consent{scopes: []string{"friends"}})
	MustToken(tb, e, w.p, w.frank, consent{scopes: []string{"friends", "profile"}})
	return w
}

// id returns the id under which w's partner knows m.
func (w *world) id(m *glasshouse.Member) string { return w.oauth.PairwiseID(w.p.ClientID, m.ID) }

// noSecrets fails if body carries the handle, email or phone of any of
// members.
func noSecrets(tb testing.TB, body []byte, members ...*glasshouse.Member) {
	tb.Helper()
	for _, m := range members {
		for _, secret := range []string{m.Handle, m.Email, m.Phone} {
			if strings.Contains(string(body), secret) {
				tb.Errorf("response carries %q of %s: %s", secret, m.Handle, body)
			}
		}
	}
}

func TestMe(t *testing.T) {
	w := MustWorld(t)
	for _, tc := range []struct {
		name     string
		consent  consent
		relayOff bool
		want     func(b meBody) bool
	}{
		{name: "profile and relay email", consent: consent{scopes: []string{"profile", "email"}}, want: func(b meBody) bool {
			return b.Name == "Alice Example" && b.Picture == w.alice.PictureURL &&
				strings.Contains(b.Email, "@relay.") && b.Phone == "" && b.Conversations == nil
		}},
		{name: "real email by choice", consent: consent{scopes: []string{"email"}, realEmail: true}, want: func(b meBody) bool {
			return b.Email == w.alice.Email && b.Name == "" && b.Phone == ""
		}},
		{name: "no email once the relay is cut off", consent: consent{scopes: []string{"email", "profile"}}, relayOff: true, want: func(b meBody) bool {
			return b.Email == "" && b.Name == "Alice Example"
		}},
		{name: "phone", consent: consent{scopes: []string{"phone"}}, want: func(b meBody) bool {
			return b.Phone == w.alice.Phone && b.Name == "" && b.Email == ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := MustToken(t, w.env, w.p, w.alice, tc.consent)
			if err := w.store.SetRelayEnabled(context.Background(), w.alice.ID, w.p.ID, !tc.relayOff); err != nil {
				t.Fatal(err)
			}
			var b meBody
			r := w.get(t, "/graph/v1/me", token).OK(http.StatusOK, &b)
			if b.ID != w.id(w.alice) || !tc.want(b) {
				t.Errorf("GET /me = %s", r.Body)
			}
			if strings.Contains(string(r.Body), w.alice.Handle) {
				t.Errorf("GET /me carries the handle: %s", r.Body)
			}
		})
	}
}

func TestFriends(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends", "profile"}})

	var b friendsBody
	r := w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, &b)
	// bob granted friends and profile: listed with his name; erin granted
	// friends only: listed without; carol (profile only), dave (nothing)
	// and frank (not a friend) are absent.
	if len(b.Friends) != 2 || b.Next != "" ||
		b.Friends[0].ID != w.id(w.bob) || b.Friends[0].Name != "Bobby Example" || b.Friends[0].Picture != w.bob.PictureURL ||
		b.Friends[1].ID != w.id(w.erin) || b.Friends[1].Name != "" || b.Friends[1].Picture != "" {
		t.Fatalf("GET /me/friends = %s", r.Body)
	}
	for _, absent := range []*glasshouse.Member{w.carol, w.dave, w.frank} {
		if strings.Contains(string(r.Body), w.id(absent)) {
			t.Errorf("%s is listed: %s", absent.Handle, r.Body)
		}
	}
	noSecrets(t, r.Body, w.alice, w.bob, w.carol, w.dave, w.erin, w.frank)

	t.Run("pages", func(t *testing.T) {
		var first, second friendsBody
		w.get(t, "/graph/v1/me/friends?limit=1", token).OK(http.StatusOK, &first)
		if len(first.Friends) != 1 || first.Friends[0].ID != w.id(w.bob) || first.Next == "" {
			t.Fatalf("first page %+v", first)
		}
		if len(first.Next) != 22 { // one AES block, base64url: no id in the clear
			t.Errorf("cursor %q", first.Next)
		}
		w.get(t, "/graph/v1/me/friends?limit=1&cursor="+first.Next, token).OK(http.StatusOK, &second)
		if len(second.Friends) != 1 || second.Friends[0].ID != w.id(w.erin) || second.Next != "" {
			t.Fatalf("second page %+v", second)
		}
		// The cursor is alice's: it works for no one else.
		bobToken := MustToken(t, w.env, w.p, w.bob, consent{scopes: []string{"friends", "profile"}})
		w.get(t, "/graph/v1/me/friends?cursor="+first.Next, bobToken).Error(http.StatusBadRequest, glasshouse.EINVALID)
	})

	t.Run("without profile", func(t *testing.T) {
		token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends"}})
		var b friendsBody
		w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, &b)
		if len(b.Friends) != 2 || b.Friends[0].Name != "" || b.Friends[0].Picture != "" {
			t.Fatalf("names without the profile scope: %+v", b)
		}
	})
}

func TestSend(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"messages.send"}})
	ctx := context.Background()

	var first, again sentBody
	r := w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.bob), "text": "Watch this!", "client_txn_id": "t1"}).
		OK(http.StatusCreated, &first)
	noSecrets(t, r.Body, w.alice, w.bob)
	w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.bob), "text": "Watch this!", "client_txn_id": "t1"}).
		OK(http.StatusOK, &again)
	if first.ID == "" || first.Conversation == "" || again != first {
		t.Errorf("sent %+v, then %+v", first, again)
	}

	// The message is in alice and bob's conversation, sent via Searchly.
	conv := storetest.MustDirect(t, w.store, w.alice, w.bob)
	page, err := w.store.Messages(ctx, glasshouse.MessageQuery{ConversationID: conv.ID, MemberID: w.bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].Text != "Watch this!" || page.Messages[0].SenderID != w.alice.ID ||
		page.Messages[0].ViaPartner != "Searchly" {
		t.Fatalf("bob sees %+v", page.Messages)
	}
	if len(first.Conversation) != 22 || len(first.ID) != 22 {
		t.Errorf("ids %+v are not opaque", first)
	}

	// carol granted the partner (profile only): a live grant is enough to
	// receive a message, and a new conversation is opened.
	w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.carol), "text": "Hi"}).OK(http.StatusCreated, nil)

	for _, tc := range []struct{ name, to string }{
		{"friend who never granted", w.id(w.dave)},
		{"granted, but not a friend", w.id(w.frank)},
		{"oneself", w.id(w.alice)},
		{"an id from nowhere", "AAAAAAAAAAAAAAAAAAAAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": tc.to, "text": "Hi"}).
				Error(http.StatusForbidden, "recipient_not_granted")
		})
	}
	if page, err := w.store.Messages(ctx, glasshouse.MessageQuery{ConversationID: storetest.MustDirect(t, w.store, w.alice, w.dave).ID, MemberID: w.dave.ID}); err != nil || len(page.Messages) != 0 {
		t.Errorf("dave got %+v (%v)", page, err)
	}
}

func TestReadMessages(t *testing.T) {
	w := MustWorld(t)
	ab, ac := storetest.MustDirect(t, w.store, w.alice, w.bob), storetest.MustDirect(t, w.store, w.alice, w.carol)
	storetest.MustSend(t, w.store, ab, w.alice, "one")
	storetest.MustSend(t, w.store, ab, w.bob, "two")
	storetest.MustSend(t, w.store, ab, w.alice, "three")
	storetest.MustSend(t, w.store, ac, w.carol, "secret")
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"messages.read", "messages.send"}, conversations: []int64{ab.ID}})

	// /me names the picked conversation, and only it.
	var me meBody
	w.get(t, "/graph/v1/me", token).OK(http.StatusOK, &me)
	if len(me.Conversations) != 1 {
		t.Fatalf("GET /me = %+v", me)
	}
	path := "/graph/v1/me/conversations/" + me.Conversations[0] + "/messages"

	texts := func(b messagesBody) (out []string) {
		for _, m := range b.Messages {
			out = append(out, m.Text+" from "+m.From)
		}
		return out
	}
	a := " from " + w.id(w.alice)
	var b messagesBody
	r := w.get(t, path, token).OK(http.StatusOK, &b)
	// bob has not agreed to his words being read by the partner.
	if got, want := texts(b), []string{"three" + a, "one" + a}; !slices.Equal(got, want) {
		t.Fatalf("before bob's consent: %q, want %q", got, want)
	}
	noSecrets(t, r.Body, w.alice, w.bob)

	MustToken(t, w.env, w.p, w.bob, consent{scopes: []string{"messages.read"}, conversations: []int64{ab.ID}})
	w.get(t, path, token).OK(http.StatusOK, &b)
	if got, want := texts(b), []string{"three" + a, "two from " + w.id(w.bob), "one" + a}; !slices.Equal(got, want) {
		t.Fatalf("after bob's consent: %q, want %q", got, want)
	}

	t.Run("pages", func(t *testing.T) {
		var got []string
		next := ""
		for range 4 {
			var b messagesBody
			w.get(t, path+"?limit=2&cursor="+next, token).OK(http.StatusOK, &b)
			got = append(got, texts(b)...)
			if next = b.Next; next == "" {
				break
			}
		}
		if want := []string{"three" + a, "two from " + w.id(w.bob), "one" + a}; !slices.Equal(got, want) {
			t.Fatalf("pages: %q, want %q", got, want)
		}
	})

	t.Run("a conversation not picked", func(t *testing.T) {
		var s sentBody
		w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.carol), "text": "hello"}).OK(http.StatusCreated, &s)
		r := w.get(t, "/graph/v1/me/conversations/"+s.Conversation+"/messages", token).Error(http.StatusForbidden, "conversation_not_granted")
		if strings.Contains(string(r.Body), "secret") {
			t.Errorf("denial carries data: %s", r.Body)
		}
		for _, id := range []string{strconv.FormatInt(ac.ID, 10), strconv.FormatInt(ab.ID, 10), "x"} {
			w.get(t, "/graph/v1/me/conversations/"+id+"/messages", token).Error(http.StatusForbidden, "conversation_not_granted")
		}
	})
}

func TestDenied(t *testing.T) {
	w := MustWorld(t)
	profileOnly := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"profile"}})
	for _, tc := range []struct {
		name, method, path string
		token              string
		body               any
		status             int
		code               string
		authenticate       string
	}{
		{name: "friends unticked", method: "GET", path: "/graph/v1/me/friends", token: profileOnly, status: 403, code: "insufficient_scope",
			authenticate: `Bearer realm="glasshouse", error="insufficient_scope", scope="friends"`},
		{name: "send unticked", method: "POST", path: "/graph/v1/me/messages", token: profileOnly, body: map[string]string{"to": w.id(w.bob), "text": "hi"},
			status: 403, code: "insufficient_scope", authenticate: `Bearer realm="glasshouse", error="insufficient_scope", scope="messages.send"`},
		{name: "read unticked", method: "GET", path: "/graph/v1/me/conversations/AAAAAAAAAAAAAAAAAAAAAA/messages", token: profileOnly, status: 403, code: "insufficient_scope",
			authenticate: `Bearer realm="glasshouse", error="insufficient_scope", scope="messages.read"`},
		{name: "no token", method: "GET", path: "/graph/v1/me", status: 401, code: "invalid_token", authenticate: `Bearer realm="glasshouse"`},
		{name: "not a token", method: "GET", path: "/graph/v1/me", token: "abc", status: 401, code: "invalid_token",
			authenticate: `Bearer realm="glasshouse", error="invalid_token"`},
		{name: "no inbox", method: "GET", path: "/graph/v1/me/inbox", token: profileOnly, status: 404, code: "unknown_request"},
		{name: "no delete", method: "DELETE", path: "/graph/v1/me/conversations/AAAAAAAAAAAAAAAAAAAAAA/messages", token: profileOnly, status: 404, code: "unknown_request"},
		{name: "no friend's email", method: "GET", path: "/graph/v1/me/friends/" + w.id(w.bob) + "/email", token: profileOnly, status: 404, code: "unknown_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *response
			if tc.body != nil {
				r = w.post(t, tc.path, tc.token, tc.body)
			} else {
				r = w.call(t, tc.method, tc.path, tc.token, nil)
			}
			r.Error(tc.status, tc.code)
			if got := r.Header.Get("WWW-Authenticate"); got != tc.authenticate {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.authenticate)
			}
		})
	}
	t.Run("token in the query", func(t *testing.T) {
		w.get(t, "/graph/v1/me?access_token="+url.QueryEscape(profileOnly), "").Error(401, "invalid_token")
	})
}

func TestSuspended(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends"}})
	w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, nil)
	if _, err := w.store.SetPartnerStatus(context.Background(), w.p.ClientID, glasshouse.PartnerSuspended); err != nil {
		t.Fatal(err)
	}
	w.get(t, "/graph/v1/me/friends", token).Error(http.StatusForbidden, "agreement_suspended")
	recs := w.Records(t, w.alice)
	if last := recs[len(recs)-1]; last.Reason != "agreement_suspended" || last.Granted || last.PartnerID != w.p.ID || last.MemberID != w.alice.ID {
		t.Errorf("the refusal was recorded as %+v", last)
	}
	if _, err := w.store.SetPartnerStatus(context.Background(), w.p.ClientID, glasshouse.PartnerApproved); err != nil {
		t.Fatal(err)
	}
	w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, nil)
}

func TestRevoked(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends"}})
	w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, nil)

	// RFC 7009 revocation, as the partner would do it.
	req, _ := http.NewRequest(http.MethodPost, w.http.URL+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(w.p.cfg.ClientID), url.QueryEscape(w.p.cfg.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	r := w.get(t, "/graph/v1/me/friends", token).Error(http.StatusUnauthorized, "invalid_token")
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="glasshouse", error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", got)
	}

	// The member revoking the app works the same.
	token = MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends"}})
	if err := w.store.RevokeGrant(context.Background(), w.alice.ID, w.p.ID); err != nil {
		t.Fatal(err)
	}
	w.get(t, "/graph/v1/me/friends", token).Error(http.StatusUnauthorized, "invalid_token")
}

func TestRateLimit(t *testing.T) {
	w := MustWorld(t, func(c *graph.Config) { c.RateLimit = ratelimit.Config{Every: time.Hour, Burst: 2} })
	other := MustPartner(t, w.env, "Shopzon")
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"profile"}})
	otherToken := MustToken(t, w.env, other, w.alice, consent{scopes: []string{"profile"}})
	w.get(t, "/graph/v1/me", token).OK(http.StatusOK, nil)
	w.get(t, "/graph/v1/me", token).OK(http.StatusOK, nil)
	r := w.get(t, "/graph/v1/me", token).Error(http.StatusTooManyRequests, glasshouse.ERATELIMITED)
	if after, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || after < 1 || after > 3600 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Each partner has its own bucket.
	w.get(t, "/graph/v1/me", otherToken).OK(http.StatusOK, nil)
	recs := w.Records(t, w.alice)
	if last := recs[len(recs)-2]; last.Reason != glasshouse.ERATELIMITED || last.Granted || last.Items != 0 {
		t.Errorf("rate-limited request recorded as %+v", last)
	}
}

func TestMalformed(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"messages.send", "friends"}})
	to := `"to": "` + w.id(w.bob) + `"`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"not JSON", "text/plain", `{` + to + `, "text": "hi"}`, 415, glasshouse.EUNSUPPORTED},
		{"broken JSON", "application/json", `{` + to + `, "text": "hi"`, 400, glasshouse.EINVALID},
		{"empty body", "application/json", ``, 400, glasshouse.EINVALID},
		{"wrong type", "application/json", `{"to": 42, "text": "hi"}`, 400, glasshouse.EINVALID},
		{"unknown field", "application/json", `{` + to + `, "text": "hi", "via": "x"}`, 400, glasshouse.EINVALID},
		{"trailing data", "application/json", `{` + to + `, "text": "hi"} {}`, 400, glasshouse.EINVALID},
		{"not an object", "application/json", `["hi"]`, 400, glasshouse.EINVALID},
		{"invalid UTF-8", "application/json", "{" + to + ", \"text\": \"\xff\"}", 400, glasshouse.EINVALID},
		{"no recipient", "application/json", `{"text": "hi"}`, 400, glasshouse.EINVALID},
		{"empty text", "application/json", `{` + to + `, "text": ""}`, 400, glasshouse.EINVALID},
		{"white space only", "application/json", `{` + to + `, "text": "\n\t "}`, 400, glasshouse.EINVALID},
		{"NUL in text", "application/json", `{` + to + `, "text": "a\u0000b"}`, 400, glasshouse.EINVALID},
		{"text over 8 KiB", "application/json", `{` + to + `, "text": "` + strings.Repeat("a", glasshouse.MaxMessageBytes+1) + `"}`, 413, glasshouse.ETOOLARGE},
		{"body over 64 KiB", "application/json", `{` + to + `, "text": "` + strings.Repeat("a", graph.MaxBodyBytes) + `"}`, 413, glasshouse.ETOOLARGE},
		{"bad client_txn_id", "application/json", `{` + to + `, "text": "hi", "client_txn_id": "a b"}`, 400, glasshouse.EINVALID},
		{"null", "application/json", `null`, 400, glasshouse.EINVALID},
		{"duplicate field", "application/json", `{` + to + `, "text": "hi", "text": "bye"}`, 400, glasshouse.EINVALID},
		{"duplicate recipient", "application/json", `{` + to + `, "text": "hi", "TO": "AAAAAAAAAAAAAAAAAAAAAA"}`, 400, glasshouse.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, w.http.URL+"/graph/v1/me/messages", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := &response{tb: t, Status: resp.StatusCode, Header: resp.Header}
			r.Body, _ = io.ReadAll(resp.Body)
			r.Error(tc.status, tc.code)
		})
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=ten", "limit=%2B5", "limit=05", "limit=-0", "limit=5%20", "cursor=abc", "cursor=AAAAAAAAAAAAAAAAAAAAAA"} {
		t.Run("friends?"+q, func(t *testing.T) {
			w.get(t, "/graph/v1/me/friends?"+q, token).Error(400, glasshouse.EINVALID)
		})
	}
	page, err := w.store.Messages(context.Background(), glasshouse.MessageQuery{ConversationID: storetest.MustDirect(t, w.store, w.alice, w.bob).ID, MemberID: w.bob.ID})
	if err != nil || len(page.Messages) != 0 {
		t.Errorf("a malformed request stored %+v (%v)", page, err)
	}
}

// TestNoFriendContact calls every endpoint with a token that holds every
// scope, for a member whose friends show everything to friends and granted
// the partner everything, and checks that no answer carries a friend's
// email, phone or handle.
func TestNoFriendContact(t *testing.T) {
	w := MustWorld(t)
	ab := storetest.MustDirect(t, w.store, w.alice, w.bob)
	storetest.MustSend(t, w.store, ab, w.bob, "hello")
	MustToken(t, w.env, w.p, w.bob, consent{scopes: glasshouse.DataScopes, realEmail: true, conversations: []int64{ab.ID}})
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: glasshouse.DataScopes, realEmail: true, conversations: []int64{ab.ID}})

	var me meBody
	var f friendsBody
	var s sentBody
	var m messagesBody
	bodies := [][]byte{
		w.get(t, "/graph/v1/me", token).OK(http.StatusOK, &me).Body,
		w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, &f).Body,
		w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.bob), "text": "hi"}).OK(http.StatusCreated, &s).Body,
	}
	bodies = append(bodies, w.get(t, "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", token).OK(http.StatusOK, &m).Body)
	if me.Email != w.alice.Email || me.Phone != w.alice.Phone || len(f.Friends) != 2 || len(m.Messages) != 2 {
		t.Fatalf("the calls did not return what they should: %s", slices.Concat(bodies...))
	}
	for _, b := range bodies {
		noSecrets(t, b, w.bob, w.carol, w.dave, w.erin, w.frank)
	}
}

func TestRecords(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"friends", "profile"}})
	before := len(w.Records(t, w.alice))

	w.get(t, "/graph/v1/me/friends", token).OK(http.StatusOK, nil)
	w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.bob), "text": "hi"}).Error(403, "insufficient_scope")
	w.get(t, "/graph/v1/me/friends?limit=0", token).Error(400, glasshouse.EINVALID)
	w.get(t, "/graph/v1/me/inbox", token).Error(404, "unknown_request")
	r := w.get(t, "/graph/v1/me", token).OK(http.StatusOK, nil)
	w.get(t, "/graph/v1/me", "").Error(401, "invalid_token")     // no token: nothing to record
	w.get(t, "/graph/v1/me", "nope").Error(401, "invalid_token") // not a token of any partner

	recs := w.Records(t, w.alice)[before:]
	type summary struct {
		Endpoint string
		Scopes   string
		Granted  bool
		Reason   string
		Items    int
	}
	want := []summary{
		{graph.RouteFriends, "friends", true, "", 2},
		{graph.RouteSend, "messages.send", false, "insufficient_scope", 0},
		{graph.RouteFriends, "friends", false, glasshouse.EINVALID, 0},
		{"/graph/v1/", "", false, "unknown_request", 0},
		{graph.RouteMe, "profile", true, "", 1},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, rec := range recs {
		got := summary{rec.Endpoint, strings.Join(rec.Scopes, " "), rec.Granted, rec.Reason, rec.Items}
		if got != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got, want[i])
		}
		if rec.PartnerID != w.p.ID || rec.ClientID != w.p.ClientID || rec.MemberID != w.alice.ID || rec.AgreementVersion != 1 ||
			rec.Counter != uint64(before+i+1) || time.Since(rec.At) > time.Minute {
			t.Errorf("record %d = %+v", i, rec)
		}
	}
	// The last response's receipt is the last record's, signed by the log key.
	receipt, err := accesslog.VerifyReceipt(r.Header.Get("Glasshouse-Receipt"), w.key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; receipt.EventID != last.EventID {
		t.Errorf("receipt for event %s, the record is %x", receipt.EventID, last.EventID)
	}
}

// TestRecorderDown breaks the store's recording: every endpoint, the send
// included, answers 503 with no data and no receipt, and nothing of the
// requests is kept.
func TestRecorderDown(t *testing.T) {
	w := MustWorld(t)
	ab := storetest.MustDirect(t, w.store, w.alice, w.bob)
	MustToken(t, w.env, w.p, w.bob, consent{scopes: glasshouse.DataScopes, conversations: []int64{ab.ID}})
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: glasshouse.DataScopes, conversations: []int64{ab.ID}})
	var me meBody
	w.get(t, "/graph/v1/me", token).OK(http.StatusOK, &me)
	before := len(w.Records(t, w.alice))
	w.BreakRecording(t)

	for _, r := range []*response{
		w.get(t, "/graph/v1/me", token),
		w.get(t, "/graph/v1/me/friends", token),
		w.get(t, "/graph/v1/me/friends?limit=0", token),
		w.get(t, "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", token),
		w.post(t, "/graph/v1/me/messages", token, map[string]string{"to": w.id(w.bob), "text": "never stored"}),
	} {
		r.Error(http.StatusServiceUnavailable, glasshouse.EUNAVAILABLE)
		if strings.Contains(string(r.Body), w.id(w.bob)) || strings.Contains(string(r.Body), w.alice.Email) || r.Header.Get("Glasshouse-Receipt") != "" {
			t.Errorf("data sent without a record: %s", r.Body)
		}
	}
	if n := len(w.Records(t, w.alice)); n != before {
		t.Errorf("%d access records were kept of the failed requests", n-before)
	}
	page, err := w.store.Messages(context.Background(), glasshouse.MessageQuery{ConversationID: ab.ID, MemberID: w.bob.ID})
	if err != nil || len(page.Messages) != 0 {
		t.Errorf("the send was stored without its record: %+v (%v)", page, err)
	}
}
