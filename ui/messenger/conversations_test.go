package messenger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
)

// mustConversationID returns the id in a /messages/{id} path.
func mustConversationID(tb testing.TB, path string) int64 {
	tb.Helper()
	var id int64
	if _, err := fmt.Sscanf(path, "/messages/%d", &id); err != nil {
		tb.Fatalf("path %q: %v", path, err)
	}
	return id
}

// mustMessages returns every message of a conversation as member sees it,
// oldest first.
func mustMessages(tb testing.TB, s *site, member, conversation int64) []*glasshouse.Message {
	tb.Helper()
	page, err := s.Store.Messages(context.Background(), glasshouse.MessageQuery{ConversationID: conversation, MemberID: member, Forward: true, Limit: glasshouse.MaxPageSize})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Messages
}

func TestDirectChat(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")
	MustFriends(t, alice, bob)

	path := MustDirect(t, alice, bob)
	id := mustConversationID(t, path)
	if again := MustDirect(t, bob, alice); again != path {
		t.Errorf("bob's direct chat is %s; want alice's %s", again, path)
	}
	alice.Get(path).MustStatus(http.StatusOK).MustContain("<h1>Bob</h1>", "Chat with @bob", "No messages yet.",
		fmt.Sprintf(`data-conversation="%d"`, id), `data-stream="/api/v1/stream?after=0"`)

	form := url.Values{"text": {"Hi Bob!\r\nHow are you?"}, "client_txn_id": {"txn-1"}}
	alice.Post(path, form).MustRedirect(path + "#compose")
	alice.Post(path, form).MustRedirect(path + "#compose") // a double submit
	msgs := mustMessages(t, s, alice.me.ID, id)
	if len(msgs) != 1 || msgs[0].Text != "Hi Bob!\nHow are you?" {
		t.Fatalf("stored %+v; want the message once, with \\n line ends", msgs)
	}

	bob.Get("/messages").MustStatus(http.StatusOK).MustContain(
		fmt.Sprintf(`<li data-conversation="%d" data-seq="1" data-kind="direct">`, id), "<span class=\"conv-name\">Alice</span>", ">1 unread</span>",
		// The last message: its text on one line, and its time.
		`<span class="conv-preview">Hi Bob! How are you?</span>`,
		`<time datetime="`+msgs[0].CreatedAt.UTC().Format(time.RFC3339)+`" data-format="datetime">`,
		fmt.Sprintf(`data-stream="/api/v1/stream?after=%d"`, msgs[0].ID))
	bob.Get(path).MustStatus(http.StatusOK).MustContain(
		`<span class="who">Alice</span>`, "Hi Bob!\nHow are you?", `data-seq="1"`,
		fmt.Sprintf(`data-stream="/api/v1/stream?after=%d"`, msgs[0].ID))
	bob.Get("/messages").MustContain(`<span class="badge unread" hidden>0 unread</span>`)
	alice.Get(path).MustContain(`<li class="msg mine" id="m-1">`, `<span class="who">You</span>`)

	for _, tc := range []struct {
		name, text, txn string
		status          int
		msg             string
	}{
		{"empty", "", "", http.StatusBadRequest, "Message text must not be empty."},
		{"white space only", "\n\t  \r\n", "", http.StatusBadRequest, "Message text must not be only spaces or line breaks."},
		{"too long", strings.Repeat("x", glasshouse.MaxMessageBytes+1), "", http.StatusRequestEntityTooLarge, "Message text must be at most 8192 bytes."},
		{"bad txn id", "hello", "has spaces", http.StatusBadRequest, "client_txn_id must be printable ASCII without spaces."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.T(t).Post(path, url.Values{"text": {tc.text}, "client_txn_id": {tc.txn}}).MustStatus(tc.status).MustFieldError("text", tc.msg)
			if n := len(mustMessages(t, s, alice.me.ID, id)); n != 1 {
				t.Errorf("%d messages stored; want 1", n)
			}
		})
	}

	t.Run("no longer friends", func(t *testing.T) {
		alice, bob := alice.T(t), bob.T(t)
		bob.Post("/friends/alice/remove", nil).MustStatus(http.StatusSeeOther)
		alice.Post(path, url.Values{"text": {"still there?"}}).MustStatus(http.StatusForbidden).
			MustFieldError("text", "You can only message friends.").MustContain("still there?</textarea>")
		alice.Post("/messages/direct", url.Values{"with": {"bob"}}).MustStatus(http.StatusForbidden).
			MustFieldError("with", "You can only talk with friends, and @bob is not one.")
	})
	t.Run("not a member", func(t *testing.T) {
		carol := s.MustMember(t, "carol", "Carol")
		carol.Get(path).MustStatus(http.StatusNotFound).MustContain("Conversation not found.")
		carol.Post(path, url.Values{"text": {"let me in"}}).MustStatus(http.StatusNotFound)
		carol.Get("/messages/0").MustStatus(http.StatusNotFound)
		carol.Get("/messages/abc").MustStatus(http.StatusNotFound)
		carol.Post("/messages/direct", url.Values{"with": {"nobody"}}).MustStatus(http.StatusNotFound).MustFieldError("with", "No member @nobody.")
	})
}

func TestGroups(t *testing.T) {
	s := MustSite(t)
	alice, bob, carol := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob"), s.MustMember(t, "carol", "Carol")
	s.MustMember(t, "dave", "Dave")
	MustFriends(t, alice, bob)
	MustFriends(t, alice, carol)

	alice.Get("/messages").MustContain(`name="members" value="bob"`, `name="members" value="carol"`).MustNotContain(`value="dave"`)
	for _, tc := range []struct {
		name    string
		form    url.Values
		status  int
		field   string
		msg     string
		checked string
	}{
		{"no title", url.Values{"title": {"  "}, "members": {"bob"}}, 400, "title", "Title must be 1 to 100 characters of UTF-8.", "bob"},
		{"a stranger", url.Values{"title": {"Trip"}, "members": {"carol", "dave"}}, 403, "members", "You can only talk with friends, and @dave is not one.", "carol"},
		{"nobody", url.Values{"title": {"Trip"}, "members": {"carol", "nobody"}}, 404, "members", "No member @nobody.", "carol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.T(t).Post("/messages/groups", tc.form).MustStatus(tc.status).MustFieldError(tc.field, tc.msg).
				MustContain(`value="` + tc.checked + `" checked>`)
			if convs, _ := s.Store.Conversations(context.Background(), alice.me.ID); len(convs) != 0 {
				t.Errorf("%d conversations written", len(convs))
			}
		})
	}

	path := alice.Post("/messages/groups", url.Values{"title": {"Trip"}, "members": {"bob", "carol"}}).MustStatus(http.StatusSeeOther).Header.Get("Location")
	alice.Post(path, url.Values{"text": {"Who brings the tent?"}}).MustStatus(http.StatusSeeOther)
	bob.Get("/messages").MustContain(`<span class="conv-name">Trip</span>`, "Group with @alice, @carol", ">1 unread</span>")
	carol.Get(path).MustStatus(http.StatusOK).MustContain("<h1>Trip</h1>", "Who brings the tent?")
}

func TestConversationPreviews(t *testing.T) {
	s := MustSite(t)
	alice, bob, carol := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob"), s.MustMember(t, "carol", "Carol")
	MustFriends(t, alice, bob)
	MustFriends(t, alice, carol)
	direct := MustDirect(t, alice, bob)
	group := alice.Post("/messages/groups", url.Values{"title": {"Trip"}, "members": {"bob", "carol"}}).MustStatus(http.StatusSeeOther).Header.Get("Location")
	MustDirect(t, alice, carol) // no message yet

	long := strings.Repeat("é", 150)
	bob.Post(direct, url.Values{"text": {long}}).MustStatus(http.StatusSeeOther)
	carol.Post(group, url.Values{"text": {"<b>tent</b> & stove"}}).MustStatus(http.StatusSeeOther)
	page := alice.Get("/messages").MustStatus(http.StatusOK)
	page.MustContain(
		`<span class="conv-preview">`+strings.Repeat("é", 100)+`…</span>`,               // cut at 100 characters
		`<span class="conv-preview">@carol: &lt;b&gt;tent&lt;/b&gt; &amp; stove</span>`, // a group's says who
		`<span class="conv-preview">No messages yet</span>`,
	)
	if strings.Index(page.Body, "@carol: ") > strings.Index(page.Body, strings.Repeat("é", 100)) {
		t.Error("the group, newest, is not listed first")
	}
	bob.Get("/messages").MustContain(`<span class="conv-preview">You: ` + strings.Repeat("é", 100) + `…</span>`)

	// A message alice deleted for herself is not her preview.
	alice.Post(direct, url.Values{"text": {"an answer"}}).MustStatus(http.StatusSeeOther)
	alice.Get("/messages").MustContain(`<span class="conv-preview">You: an answer</span>`)
	id := mustConversationID(t, direct)
	if err := s.Store.DeleteForMe(context.Background(), alice.me.ID, id, 2); err != nil {
		t.Fatal(err)
	}
	alice.Get("/messages").MustContain(`<span class="conv-preview">` + strings.Repeat("é", 100) + `…</span>`).MustNotContain("an answer")
}

func TestHistoryPages(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")
	MustFriends(t, alice, bob)
	path := MustDirect(t, alice, bob)
	id := mustConversationID(t, path)
	for i := 1; i <= glasshouse.DefaultPageSize+10; i++ {
		if _, _, err := s.Store.SendMessage(context.Background(), glasshouse.NewMessage{ConversationID: id, SenderID: alice.me.ID, Text: fmt.Sprintf("message %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	latest := bob.Get(path).MustStatus(http.StatusOK)
	latest.MustContain(`id="m-11"`, `id="m-60"`, path+"?before=11", "data-stream=").MustNotContain(`id="m-10"`)
	if strings.Index(latest.Body, `id="m-11"`) > strings.Index(latest.Body, `id="m-60"`) {
		t.Error("messages not oldest first")
	}
	older := bob.Get(path + "?before=11").MustStatus(http.StatusOK)
	older.MustContain(`id="m-1"`, `id="m-10"`, "Newest messages").MustNotContain(`id="m-11"`, "data-stream=", "?before=")
	bob.Get(path + "?before=x").MustStatus(http.StatusBadRequest)
}

func TestPartnerBadge(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")
	MustFriends(t, alice, bob)
	path := MustDirect(t, alice, bob)
	_, _, err := s.Store.SendMessage(context.Background(), glasshouse.NewMessage{
		ConversationID: mustConversationID(t, path), SenderID: alice.me.ID, Text: "I watched Metropolis", ViaPartner: "Streamflix"})
	if err != nil {
		t.Fatal(err)
	}
	bob.Get(path).MustContain(`<span class="badge via">sent via Streamflix</span>`, "I watched Metropolis")
}

// TestEscaping shows that what members type reaches pages as text.
func TestEscaping(t *testing.T) {
	s := MustSite(t)
	mallory := s.MustMember(t, "mallory", `<script>alert("name")</script>`)
	bob := s.MustMember(t, "bob", "Bob")
	MustFriends(t, mallory, bob)
	path := MustDirect(t, bob, mallory)
	mallory.Post(path, url.Values{"text": {`<script>alert("text")</script><img src=x onerror=alert(1)>`}}).MustStatus(http.StatusSeeOther)
	for _, p := range []*pagetest.Page{bob.Get(path), bob.Get("/messages"), bob.Get("/friends")} {
		p.MustStatus(http.StatusOK).MustContain("&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;").
			MustNotContain("<script>alert", "<img src=x")
	}
	bob.Get(path).MustContain("&lt;script&gt;alert(&#34;text&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;")
}

// TestCSRF posts every form without its token: each is refused and
// changes nothing.
func TestCSRF(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")
	MustFriends(t, alice, bob)
	path := MustDirect(t, alice, bob)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/signup", url.Values{"handle": {"eve"}, "email": {"eve@example.org"}, "new_password": {testPassword}}},
		{"/signin", url.Values{"handle": {"alice"}, "password": {testPassword}}},
		{"/signout", nil},
		{"/friends", url.Values{"handle": {"bob"}}},
		{"/friends/requests/1/accept", nil},
		{"/friends/requests/1/decline", nil},
		{"/friends/requests/1/cancel", nil},
		{"/friends/bob/remove", nil},
		{"/blocks", url.Values{"handle": {"bob"}}},
		{"/blocks/bob/unblock", nil},
		{"/messages/direct", url.Values{"with": {"bob"}}},
		{"/messages/groups", url.Values{"title": {"x"}, "members": {"bob"}}},
		{path, url.Values{"text": {"forged"}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			form := tc.form
			if form == nil {
				form = url.Values{}
			}
			alice := alice.T(t)
			alice.PostRaw(tc.path, form).MustStatus(http.StatusForbidden).MustContain("This form has expired or came from another site.")
			form.Set("csrf", bob.CSRF) // another browser's token
			alice.PostRaw(tc.path, form).MustStatus(http.StatusForbidden)
		})
	}
	alice.Get("/messages").MustStatus(http.StatusOK) // still signed in
	if ok, _ := s.Store.AreFriends(context.Background(), alice.me.ID, bob.me.ID); !ok {
		t.Error("friendship changed")
	}
	if msgs := mustMessages(t, s, alice.me.ID, mustConversationID(t, path)); len(msgs) != 0 {
		t.Errorf("forged messages stored: %v", msgs)
	}
	if convs, _ := s.Store.Conversations(context.Background(), alice.me.ID); len(convs) != 1 {
		t.Errorf("%d conversations; want 1", len(convs))
	}
}
