package privacy

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Store is what the privacy center calls on the store: the methods of
// glasshouse.Store it uses, under the name of the interface that documents
// each. *sqlstore.Store implements it, as does every glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	PasswordHash(ctx context.Context, handle string) (int64, string, error)
	// glasshouse.PartnerStore
	CurrentAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error)
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error)
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
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)
