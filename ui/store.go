package ui

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Store is what the Kit calls on the store: the signed-in member's row.
// *sqlstore.Store implements it, as does every glasshouse.Store.
type Store interface {
	// glasshouse.MemberStore
	MemberByID(ctx context.Context, id int64) (*glasshouse.Member, error)
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)
