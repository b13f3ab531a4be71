package glasshouse

import (
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

// Hub fans events out to the open streams of each member (package realtime
// implements it for one node, package realtime/natshub for the nodes that
// share one database, through NATS).
type Hub interface {
	Publisher
	Subscribe(ctx context.Context, memberID int64) (Subscription, error)
}
