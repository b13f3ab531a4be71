package storetest

import (
	"fmt"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// This file holds the fixtures that the suite and the other packages' tests
// share: members, friendships, conversations and messages made through the
// store's own methods, each stopping the test on the first error.

// NewMember returns an unsaved member with the given handle, an email and
// display name made from it, and the default visibility.
func NewMember(handle string) *glasshouse.Member {
	return &glasshouse.Member{
		Handle:      handle,
		DisplayName: "Name of " + handle,
		Email:       handle + "@example.org",
		Visibility:  glasshouse.DefaultVisibility,
	}
}

// MustCreateMember saves m with the given password hash and returns it.
func MustCreateMember(tb testing.TB, s glasshouse.Store, m *glasshouse.Member, passwordHash string) *glasshouse.Member {
	tb.Helper()
	if err := s.CreateMember(tb.Context(), m, passwordHash); err != nil {
		tb.Fatalf("CreateMember(%s): %v", m.Handle, err)
	}
	return m
}

// MustMember creates NewMember(handle) with the password hash
// "hash-of-<handle>".
func MustMember(tb testing.TB, s glasshouse.Store, handle string) *glasshouse.Member {
	tb.Helper()
	return MustCreateMember(tb, s, NewMember(handle), "hash-of-"+handle)
}

// MustMembers creates one member per handle.
func MustMembers(tb testing.TB, s glasshouse.Store, handles ...string) []*glasshouse.Member {
	tb.Helper()
	ms := make([]*glasshouse.Member, len(handles))
	for i, h := range handles {
		ms[i] = MustMember(tb, s, h)
	}
	return ms
}

// MustFriends makes a friends with each of others, through a request that
// the other accepts.
func MustFriends(tb testing.TB, s glasshouse.Store, a *glasshouse.Member, others ...*glasshouse.Member) {
	tb.Helper()
	for _, b := range others {
		req, err := s.RequestFriend(tb.Context(), a.ID, b.Handle)
		if err != nil || req == nil {
			tb.Fatalf("RequestFriend(%s, %s) = %v, %v; want a request", a.Handle, b.Handle, req, err)
		}
		if err := s.AcceptFriendRequest(tb.Context(), b.ID, req.ID); err != nil {
			tb.Fatalf("AcceptFriendRequest(%s, %d): %v", b.Handle, req.ID, err)
		}
	}
}

// ensureFriends makes a friends with those of others it is not friends with.
func ensureFriends(tb testing.TB, s glasshouse.Store, a *glasshouse.Member, others ...*glasshouse.Member) {
	tb.Helper()
	for _, b := range others {
		ok, err := s.AreFriends(tb.Context(), a.ID, b.ID)
		if err != nil {
			tb.Fatalf("AreFriends(%s, %s): %v", a.Handle, b.Handle, err)
		}
		if !ok {
			MustFriends(tb, s, a, b)
		}
	}
}

// MustDirect makes a and b friends if they are not yet and returns their
// direct conversation.
func MustDirect(tb testing.TB, s glasshouse.Store, a, b *glasshouse.Member) *glasshouse.Conversation {
	tb.Helper()
	ensureFriends(tb, s, a, b)
	c, _, err := s.CreateDirect(tb.Context(), a.ID, b.Handle)
	if err != nil {
		tb.Fatalf("CreateDirect(%s, %s): %v", a.Handle, b.Handle, err)
	}
	return c
}

// MustGroup makes creator friends with the members and creates a group of
// them all.
func MustGroup(tb testing.TB, s glasshouse.Store, creator *glasshouse.Member, members ...*glasshouse.Member) *glasshouse.Conversation {
	tb.Helper()
	ensureFriends(tb, s, creator, members...)
	c, err := s.CreateGroup(tb.Context(), creator.ID, glasshouse.NewGroup{Title: "Group of " + creator.Handle, Members: handles(members)})
	if err != nil {
		tb.Fatalf("CreateGroup(%s): %v", creator.Handle, err)
	}
	return c
}

// MustSend sends text to c as from, without a client transaction id.
func MustSend(tb testing.TB, s glasshouse.Store, c *glasshouse.Conversation, from *glasshouse.Member, text string) *glasshouse.Message {
	tb.Helper()
	msg, created, err := s.SendMessage(tb.Context(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: from.ID, Text: text})
	if err != nil {
		tb.Fatalf("SendMessage(%s in %d, %q): %v", from.Handle, c.ID, text, err)
	} else if !created {
		tb.Fatalf("SendMessage(%s in %d, %q): created = false for a new message", from.Handle, c.ID, text)
	}
	return msg
}

// MustSendN sends n messages "1", "2", … to c as from.
func MustSendN(tb testing.TB, s glasshouse.Store, c *glasshouse.Conversation, from *glasshouse.Member, n int) []*glasshouse.Message {
	tb.Helper()
	msgs := make([]*glasshouse.Message, n)
	for i := range msgs {
		msgs[i] = MustSend(tb, s, c, from, fmt.Sprint(i+1))
	}
	return msgs
}

// mustConversation returns c as m sees it.
func mustConversation(tb testing.TB, s glasshouse.Store, m *glasshouse.Member, id int64) *glasshouse.Conversation {
	tb.Helper()
	c, err := s.Conversation(tb.Context(), m.ID, id)
	if err != nil {
		tb.Fatalf("Conversation(%s, %d): %v", m.Handle, id, err)
	}
	return c
}
