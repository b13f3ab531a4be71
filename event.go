package glasshouse

import (
	"context"
	"time"
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

// Hub fans events out to the open streams of each member. The in-process hub
// serves one node; a NATS hub serves a cluster.
type Hub interface {
	Publisher
	Subscribe(ctx context.Context, memberID int64) (Subscription, error)
}

// PurgeAfter is how long expired sessions, authorization requests and
// token families are kept before Store.Purge deletes them.
const PurgeAfter = 24 * time.Hour

// Store is everything the platform core keeps.
type Store interface {
	MemberStore
	SessionStore
	FriendStore
	ConversationStore
	PartnerStore
	GrantStore
	OAuthStore
	AccessStore
	AccountStore
	OperatorStore
	PartnerStatsStore
	// Purge deletes what has expired for more than PurgeAfter at now:
	// sessions, authorization requests (and their codes), and token
	// families whose every token has expired (a family is kept whole until
	// then, so that a replayed refresh token is still recognised). It
	// returns how many rows it deleted.
	Purge(ctx context.Context, now time.Time) (int64, error)
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Close flushes pending writes and closes the database.
	Close() error
}
