package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// A test is one subtest of the suite. It gets a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s glasshouse.Store)
}

// Run runs the suite against the stores that open returns.
//
// open is called once per subtest, from parallel subtests, and MUST return a
// new, empty store that shares no data with any other store it returned (a
// new SQLite file, a new PostgreSQL schema or database). It SHOULD close the
// store with t.Cleanup. A store opened without a Publisher is fine: events are
// checked by RunPublisher.
func Run(t *testing.T, open func(t *testing.T) glasshouse.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Members", memberTests},
		{"Sessions", sessionTests},
		{"Friends", friendTests},
		{"Conversations", conversationTests},
		{"Messages", messageTests},
		{"Concurrency", concurrencyTests},
		{"Partners", partnerTests},
		{"Grants", grantTests},
		{"OAuth", oauthTests},
		{"Access", accessTests},
		{"Purge", purgeTests},
		{"Accounts", accountTests},
		{"Operators", operatorTests},
		{"PartnerStats", partnerStatsTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, open(t))
				})
			}
		})
	}
}

// mustMember creates a member with the given handle, an email and display
// name made from it, and the default visibility.
func mustMember(t *testing.T, s glasshouse.Store, handle string) *glasshouse.Member {
	t.Helper()
	m := &glasshouse.Member{
		Handle:      handle,
		DisplayName: "Name of " + handle,
		Email:       handle + "@example.org",
		Visibility:  glasshouse.DefaultVisibility,
	}
	if err := s.CreateMember(t.Context(), m, "hash-of-"+handle); err != nil {
		t.Fatalf("CreateMember(%s): %v", handle, err)
	}
	return m
}

// mustMembers creates one member per handle.
func mustMembers(t *testing.T, s glasshouse.Store, handles ...string) []*glasshouse.Member {
	t.Helper()
	ms := make([]*glasshouse.Member, len(handles))
	for i, h := range handles {
		ms[i] = mustMember(t, s, h)
	}
	return ms
}

// mustFriends makes a friends with each of others, through a request that
// the other accepts.
func mustFriends(t *testing.T, s glasshouse.Store, a *glasshouse.Member, others ...*glasshouse.Member) {
	t.Helper()
	for _, b := range others {
		req, err := s.RequestFriend(t.Context(), a.ID, b.Handle)
		if err != nil || req == nil {
			t.Fatalf("RequestFriend(%s, %s) = %v, %v; want a request", a.Handle, b.Handle, req, err)
		}
		if err := s.AcceptFriendRequest(t.Context(), b.ID, req.ID); err != nil {
			t.Fatalf("AcceptFriendRequest(%s, %d): %v", b.Handle, req.ID, err)
		}
	}
}

// ensureFriends makes a friends with those of others it is not friends with.
func ensureFriends(t *testing.T, s glasshouse.Store, a *glasshouse.Member, others ...*glasshouse.Member) {
	t.Helper()
	for _, b := range others {
		ok, err := s.AreFriends(t.Context(), a.ID, b.ID)
		must(t, err)
		if !ok {
			mustFriends(t, s, a, b)
		}
	}
}

// mustDirect makes a and b friends and returns their direct conversation.
func mustDirect(t *testing.T, s glasshouse.Store, a, b *glasshouse.Member) *glasshouse.Conversation {
	t.Helper()
	ensureFriends(t, s, a, b)
	c, _, err := s.CreateDirect(t.Context(), a.ID, b.Handle)
	if err != nil {
		t.Fatalf("CreateDirect(%s, %s): %v", a.Handle, b.Handle, err)
	}
	return c
}

// mustGroup makes creator friends with the members and creates a group of
// them all.
func mustGroup(t *testing.T, s glasshouse.Store, creator *glasshouse.Member, members ...*glasshouse.Member) *glasshouse.Conversation {
	t.Helper()
	ensureFriends(t, s, creator, members...)
	c, err := s.CreateGroup(t.Context(), creator.ID, glasshouse.NewGroup{Title: "Group of " + creator.Handle, Members: handles(members)})
	if err != nil {
		t.Fatalf("CreateGroup(%s): %v", creator.Handle, err)
	}
	return c
}

// mustSend sends text to c as from, without a client transaction id.
func mustSend(t *testing.T, s glasshouse.Store, c *glasshouse.Conversation, from *glasshouse.Member, text string) *glasshouse.Message {
	t.Helper()
	msg, created, err := s.SendMessage(t.Context(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: from.ID, Text: text})
	if err != nil {
		t.Fatalf("SendMessage(%s in %d, %q): %v", from.Handle, c.ID, text, err)
	} else if !created {
		t.Fatalf("SendMessage(%s in %d, %q): created = false for a new message", from.Handle, c.ID, text)
	}
	return msg
}

// mustSendN sends n messages "1", "2", … to c as from.
func mustSendN(t *testing.T, s glasshouse.Store, c *glasshouse.Conversation, from *glasshouse.Member, n int) []*glasshouse.Message {
	t.Helper()
	msgs := make([]*glasshouse.Message, n)
	for i := range msgs {
		msgs[i] = mustSend(t, s, c, from, fmt.Sprint(i+1))
	}
	return msgs
}

// mustConversation returns c as m sees it.
func mustConversation(t *testing.T, s glasshouse.Store, m *glasshouse.Member, id int64) *glasshouse.Conversation {
	t.Helper()
	c, err := s.Conversation(t.Context(), m.ID, id)
	if err != nil {
		t.Fatalf("Conversation(%s, %d): %v", m.Handle, id, err)
	}
	return c
}

// must stops the test on an unexpected error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode reports an error unless err carries the given code.
func wantCode(t *testing.T, err error, code, call string) {
	t.Helper()
	if got := glasshouse.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", call, err, got, code)
	}
}

// handles returns the members' handles in order.
func handles(ms []*glasshouse.Member) []string {
	hs := make([]string, len(ms))
	for i, m := range ms {
		hs[i] = m.Handle
	}
	return hs
}

// sortedHandles returns the members' handles sorted.
func sortedHandles(ms []*glasshouse.Member) []string {
	return slices.Sorted(slices.Values(handles(ms)))
}

// seqs returns the messages' seqs in order.
func seqs(msgs []*glasshouse.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// ids returns the messages' ids in order.
func ids(msgs []*glasshouse.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// seqRange returns from, from+step, … up to and including to.
func seqRange(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if to < from {
		step = -1
	}
	for i := from; i != to+step; i += step {
		out = append(out, i)
	}
	return out
}

// diffMember describes how got differs from want, or returns "".
func diffMember(got, want *glasshouse.Member) string {
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		return fmt.Sprintf("CreatedAt %v, want %v", g.CreatedAt, w.CreatedAt)
	}
	g.CreatedAt = w.CreatedAt
	if g != w {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// diffMessage describes how got differs from want, or returns "".
func diffMessage(got, want *glasshouse.Message) string {
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		return fmt.Sprintf("message %d: CreatedAt %v, want %v", w.ID, g.CreatedAt, w.CreatedAt)
	}
	g.CreatedAt = w.CreatedAt
	if g != w {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// sameMessages reports each difference between got and want, in order.
func sameMessages(t *testing.T, call string, got, want []*glasshouse.Message) {
	t.Helper()
	if g, w := ids(got), ids(want); !slices.Equal(g, w) {
		t.Errorf("%s: message ids %s; seqs %s", call, firstDiff(g, w), firstDiff(seqs(got), seqs(want)))
		return
	}
	for i := range got {
		if d := diffMessage(got[i], want[i]); d != "" {
			t.Errorf("%s: message %d: %s", call, i, d)
		}
	}
}

// reversed returns a reversed copy of msgs.
func reversed(msgs []*glasshouse.Message) []*glasshouse.Message {
	out := slices.Clone(msgs)
	slices.Reverse(out)
	return out
}

// firstDiff describes where got first differs from want, briefly.
func firstDiff(got, want []int64) string {
	if len(got)+len(want) <= 20 {
		return fmt.Sprintf("%v, want %v", got, want)
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	window := func(xs []int64) []int64 { return xs[min(len(xs), max(0, i-2)):min(len(xs), i+3)] }
	return fmt.Sprintf("%d of them, want %d; first difference at index %d: …%v…, want …%v…", len(got), len(want), i, window(got), window(want))
}
