package glasshouse

import (
	"context"
	"time"
)

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
	AgreementLogStore
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
