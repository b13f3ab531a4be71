package export

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Store is what an Exporter reads from the store: the methods of
// glasshouse.Store it uses, under the name of the interface that documents
// each. *sqlstore.Store implements it, as does every glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	MemberByID(ctx context.Context, id int64) (*glasshouse.Member, error)
	// glasshouse.FriendStore
	Blocked(ctx context.Context, memberID int64) ([]*glasshouse.Member, error)
	FriendRequests(ctx context.Context, memberID int64) (*glasshouse.FriendRequests, error)
	Friends(ctx context.Context, memberID int64) ([]*glasshouse.Member, error)
	// glasshouse.ConversationStore
	Conversations(ctx context.Context, memberID int64) ([]*glasshouse.Conversation, error)
	Messages(ctx context.Context, q glasshouse.MessageQuery) (*glasshouse.MessagePage, error)
	// glasshouse.PartnerStore
	CurrentAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error)
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error) // accesslog.PartnerNames
	Partners(ctx context.Context) ([]*glasshouse.Partner, error)
	// glasshouse.GrantStore
	Grants(ctx context.Context, memberID int64) ([]*glasshouse.Grant, error)
	// glasshouse.AccessStore
	AccessCount(ctx context.Context, memberID int64) (uint64, error)
	MemberAccess(ctx context.Context, memberID int64, after uint64, limit int) ([]*glasshouse.AccessRecord, error)
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)
