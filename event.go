package glasshouse

import (
	"bytes"
	"context"
)

// Event is something a member's open streams should see. Stores publish
// events after commit, in commit order.
type Event struct {
	Message    *Message // the new message
	Recipients []int64  // members of its conversation, the sender included
}

// Publisher receives committed events. Publish must not block: a store calls
// it from its commit path.
type Publisher interface {
	Publish(ev Event)
}

// Subscription is one open stream's feed of events.
type Subscription interface {
	// C delivers events for the member, in commit order. It is closed when
	// the subscriber fell too far behind or the hub closed; the client then
	// resumes from its last message id.
	C() <-chan Event
	// Close ends the subscription.
	Close()
}

// SessionsEnded names sessions that ended (a sign-out, a password change,
// a deleted account), so that every node closes the streams they opened.
type SessionsEnded struct {
	MemberID  int64  `json:"member_id,omitempty"`  // the member's sessions; 0: whoever holds TokenHash
	TokenHash []byte `json:"token_hash,omitempty"` // only this session
	Except    []byte `json:"except,omitempty"`     // every session of the member but this one
}

// Covers reports whether the session tokenHash of memberID is one of e's.
func (e SessionsEnded) Covers(memberID int64, tokenHash []byte) bool {
	return (e.MemberID == 0 || e.MemberID == memberID) &&
		(e.TokenHash == nil || bytes.Equal(e.TokenHash, tokenHash)) &&
		(e.Except == nil || !bytes.Equal(e.Except, tokenHash))
}

// SessionBus tells the other nodes of a cluster which sessions ended
// (package realtime/natshub carries it on NATS).
type SessionBus interface {
	// EndSessions tells the other nodes; it never blocks.
	EndSessions(e SessionsEnded)
	// OnSessionsEnded sets what this node does when another tells it.
	OnSessionsEnded(func(SessionsEnded))
}

// Hub fans events out to the open streams of each member (package realtime
// implements it for one node, package realtime/natshub for the nodes that
// share one database, through NATS).
type Hub interface {
	Publisher
	Subscribe(ctx context.Context, memberID int64) (Subscription, error)
}
