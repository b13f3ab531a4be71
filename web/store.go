package web

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Store is what the member API calls on the store: the methods of
// glasshouse.Store its handlers use, under the name of the interface that
// documents each. *sqlstore.Store implements it, as does every
// glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	CreateMember(ctx context.Context, m *glasshouse.Member, passwordHash string) error
	MemberByHandle(ctx context.Context, handle string) (*glasshouse.Member, error)
	MemberByID(ctx context.Context, id int64) (*glasshouse.Member, error)
	SetPassword(ctx context.Context, memberID int64, passwordHash string, keep []byte) error
	UpdateProfile(ctx context.Context, memberID int64, u glasshouse.ProfileUpdate) (*glasshouse.Member, error)
	// glasshouse.FriendStore
	AcceptFriendRequest(ctx context.Context, memberID, requestID int64) error
	AreFriends(ctx context.Context, a, b int64) (bool, error)
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
	AddMember(ctx context.Context, memberID, conversationID int64, handle string) error
	Conversation(ctx context.Context, memberID, conversationID int64) (*glasshouse.Conversation, error)
	Conversations(ctx context.Context, memberID int64) ([]*glasshouse.Conversation, error)
	CreateDirect(ctx context.Context, memberID int64, other string) (c *glasshouse.Conversation, created bool, err error)
	CreateGroup(ctx context.Context, memberID int64, g glasshouse.NewGroup) (*glasshouse.Conversation, error)
	DeleteForMe(ctx context.Context, memberID, conversationID, seq int64) error
	Leave(ctx context.Context, memberID, conversationID int64) error
	MarkRead(ctx context.Context, memberID, conversationID, seq int64) error
	Messages(ctx context.Context, q glasshouse.MessageQuery) (*glasshouse.MessagePage, error)
	MessagesAfter(ctx context.Context, memberID, after int64, limit int) ([]*glasshouse.Message, error)
	SendMessage(ctx context.Context, m glasshouse.NewMessage) (msg *glasshouse.Message, created bool, err error)
	// glasshouse.PartnerStore
	CurrentAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error)
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error) // accesslog.PartnerNames
	// the public partner directory (glasshouse.DirectoryStore)
	glasshouse.DirectoryStore
	// glasshouse.GrantStore
	Grant(ctx context.Context, memberID, partnerID int64) (*glasshouse.Grant, error)
	Grants(ctx context.Context, memberID int64) ([]*glasshouse.Grant, error)
	RevokeGrant(ctx context.Context, memberID, partnerID int64) error
	RevokeScope(ctx context.Context, memberID, partnerID int64, scope string) error
	SaveGrant(ctx context.Context, g glasshouse.Grant, relayEmail string) (*glasshouse.Grant, error)
	SetRelayEnabled(ctx context.Context, memberID, partnerID int64, enabled bool) error
	// glasshouse.AccessStore
	AccessCount(ctx context.Context, memberID int64) (uint64, error)
	MemberAccess(ctx context.Context, memberID int64, after uint64, limit int) ([]*glasshouse.AccessRecord, error)
	// glasshouse.Store
	Ping(ctx context.Context) error
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)
