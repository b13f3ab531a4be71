package messenger

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Store is what the messenger pages call on the store: the methods of
// glasshouse.Store they use, under the name of the interface that
// documents each. *sqlstore.Store implements it, as does every
// glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	MemberByHandle(ctx context.Context, handle string) (*glasshouse.Member, error)
	// glasshouse.FriendStore
	AcceptFriendRequest(ctx context.Context, memberID, requestID int64) error
	Block(ctx context.Context, memberID int64, handle string) error
	Blocked(ctx context.Context, memberID int64) ([]*glasshouse.Member, error)
	CancelFriendRequest(ctx context.Context, memberID, requestID int64) error
	DeclineFriendRequest(ctx context.Context, memberID, requestID int64) error
	FriendRequests(ctx context.Context, memberID int64) (*glasshouse.FriendRequests, error)
	Friends(ctx context.Context, memberID int64) ([]*glasshouse.Member, error)
	RemoveFriend(ctx context.Context, memberID int64, handle string) error
	RequestFriend(ctx context.Context, from int64, to string) (*glasshouse.FriendRequest, error)
	Unblock(ctx context.Context, memberID int64, handle string) error
	// glasshouse.ConversationStore
	Conversation(ctx context.Context, memberID, conversationID int64) (*glasshouse.Conversation, error)
	Conversations(ctx context.Context, memberID int64) ([]*glasshouse.Conversation, error)
	CreateDirect(ctx context.Context, memberID int64, other string) (c *glasshouse.Conversation, created bool, err error)
	CreateGroup(ctx context.Context, memberID int64, g glasshouse.NewGroup) (*glasshouse.Conversation, error)
	LatestMessages(ctx context.Context, memberID int64) (map[int64]*glasshouse.Message, error)
	MarkRead(ctx context.Context, memberID, conversationID, seq int64) error
	Messages(ctx context.Context, q glasshouse.MessageQuery) (*glasshouse.MessagePage, error)
	SendMessage(ctx context.Context, m glasshouse.NewMessage) (msg *glasshouse.Message, created bool, err error)
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)
