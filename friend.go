package glasshouse

import (
	"context"
	"time"
)

// FriendRequest is an offer of friendship from one member to another.
type FriendRequest struct {
	ID        int64     `json:"id"`
	From      *Member   `json:"from"`
	To        *Member   `json:"to"`
	CreatedAt time.Time `json:"created_at"`
}

// FriendRequests are a member's pending requests, both ways.
type FriendRequests struct {
	Incoming []*FriendRequest `json:"incoming"`
	Outgoing []*FriendRequest `json:"outgoing"`
}

// FriendStore keeps friendships, pending requests and blocks. A block hides
// each member from the other: to the blocked member, the blocker looks like a
// member who does not exist (ENOTFOUND), and no request, friendship or
// message crosses a block in either direction.
type FriendStore interface {
	// RequestFriend asks to befriend the member with handle to. If that
	// member already asked from, the two become friends at once and the
	// returned request is nil. EINVALID for oneself, ENOTFOUND if absent or
	// blocked either way, ECONFLICT if already friends or already requested.
	RequestFriend(ctx context.Context, from int64, to string) (*FriendRequest, error)
	// AcceptFriendRequest makes the two members friends. Only the
	// recipient may accept. ENOTFOUND if no such request for memberID.
	AcceptFriendRequest(ctx context.Context, memberID, requestID int64) error
	// DeclineFriendRequest deletes a request addressed to memberID.
	// ENOTFOUND if no such request.
	DeclineFriendRequest(ctx context.Context, memberID, requestID int64) error
	// CancelFriendRequest deletes a request sent by memberID.
	// ENOTFOUND if no such request.
	CancelFriendRequest(ctx context.Context, memberID, requestID int64) error
	// FriendRequests lists memberID's pending requests, oldest first.
	FriendRequests(ctx context.Context, memberID int64) (*FriendRequests, error)
	// RemoveFriend ends a friendship. ENOTFOUND if not friends.
	RemoveFriend(ctx context.Context, memberID int64, handle string) error
	// Friends lists memberID's friends by handle, as memberID sees them.
	Friends(ctx context.Context, memberID int64) ([]*Member, error)
	// AreFriends reports whether a and b are friends.
	AreFriends(ctx context.Context, a, b int64) (bool, error)
	// Block blocks handle for memberID: any friendship and pending requests
	// between them end. EINVALID for oneself, ENOTFOUND if absent,
	// ECONFLICT if already blocked.
	Block(ctx context.Context, memberID int64, handle string) error
	// Unblock lifts memberID's block. ENOTFOUND if there was none.
	Unblock(ctx context.Context, memberID int64, handle string) error
	// Blocked lists the members memberID has blocked.
	Blocked(ctx context.Context, memberID int64) ([]*Member, error)
}
