package glasshouse

import (
	"context"
	"time"
)

// AccessRecord is one partner request that carried a verified token,
// granted or denied: what the accountability log records of it. The store
// keeps it with the member's id, for the member's own privacy center; the
// public log entry made from it names the member only through a tag for
// Counter (see package accesslog).
type AccessRecord struct {
	EventID          [16]byte  // random; the log entry's event id
	PartnerID        int64     // the partner's id
	ClientID         string    // the partner's OAuth client id: the entry's partner id
	MemberID         int64     // the member the token speaks for
	AgreementVersion int       // the agreement in force; 0 if not known when refused
	Endpoint         string    // the route pattern, such as "GET /graph/v1/me/friends"
	Scopes           []string  // the scopes the request used; when denied, those it asked for (policy.Asked)
	Granted          bool      // the policy allowed it
	Reason           string    // "" when served; else the error code sent: a policy reason, or invalid, not_found, rate_limited…
	Items            int       // the items returned or written
	At               time.Time // when the request arrived

	// Set by the store.
	Counter    uint64 // the member's access counter: 1 for their first access, then +1, without gaps
	LogIndex   uint64 // the entry's index in the log, once Integrated
	Integrated bool   // the entry is in the log
}

// Within is what a partner request may read or write inside the
// transaction that records its access (AccessStore.RecordWith): the Graph
// API's data reads and its one write, with the same contracts as the
// Store's methods of the same names.
type Within interface {
	MemberByID(ctx context.Context, id int64) (*Member, error)
	FriendsWithGrants(ctx context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]FriendGrant, error)
	Messages(ctx context.Context, q MessageQuery) (*MessagePage, error)
	Grant(ctx context.Context, memberID, partnerID int64) (*Grant, error)
	CreateDirect(ctx context.Context, memberID int64, other string) (c *Conversation, created bool, err error)
	SendMessage(ctx context.Context, m NewMessage) (msg *Message, created bool, err error)
}

// OutboxEntry is a log entry committed together with its access record and
// not yet in the log.
type OutboxEntry struct {
	EventID [16]byte
	Entry   []byte // the entry's canonical encoding
}

// LogPosition is the log index an event's entry received.
type LogPosition struct {
	EventID [16]byte
	Index   uint64
}

// FeederLock is a hold on the deployment's feeder lock.
type FeederLock interface {
	// Check returns nil while the lock is still this holder's, else why
	// it may not be. A database restart or a cut connection frees it
	// without the holder's knowing, and another node may then take it: a
	// feeder that does not stop at once would append to the log beside
	// the other.
	Check(ctx context.Context) error
	// Release frees the lock; it is safe to call more than once.
	Release()
}

// AccessStore keeps access records and the outbox of their log entries.
//
// The feeder (accesslog.Feeder, through accesslog.StoreOutbox) is the only
// reader of the outbox; every node writes to it.
type AccessStore interface {
	// RecordAccess writes rec in ONE durable transaction: it increments
	// the member's access counter, calls encode with the new counter and
	// the member's secret (AccountStore.MemberSecret, read in the same
	// transaction: a deleted member has none, and gets no record) for the
	// log entry's bytes, inserts the access record and an outbox row
	// (event id, entry), and commits. It sets rec.Counter. If encode or
	// anything else fails, nothing is written (the counter is not spent)
	// and the error returns. A duplicate event id is ECONFLICT.
	RecordAccess(ctx context.Context, rec *AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error)) error
	// RecordWith runs do and records rec in ONE transaction: do's reads
	// and writes and the record (counter, access record, outbox row) are
	// committed together, or not at all. do runs first, so it can fill in
	// what the record says (rec.Items); encode is called after it. If do
	// returns an error, nothing is written, no record either, and
	// RecordWith returns that error as it is: the caller records the
	// refusal with RecordAccess. Other errors are internal or
	// EUNAVAILABLE.
	RecordWith(ctx context.Context, rec *AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error), do func(ctx context.Context, tx Within) error) error
	// MemberAccess lists memberID's own access records with a counter
	// greater than after, in counter order, at most limit (0 means
	// DefaultPageSize; more than MaxPageSize is EINVALID).
	MemberAccess(ctx context.Context, memberID int64, after uint64, limit int) ([]*AccessRecord, error)
	// AccessCount returns memberID's access counter: how many access
	// records the member has had (0 if none).
	AccessCount(ctx context.Context, memberID int64) (uint64, error)

	// PendingEntries returns up to limit outbox rows, oldest (first
	// committed) first; an empty slice when there are none.
	PendingEntries(ctx context.Context, limit int) ([]OutboxEntry, error)
	// MarkIntegrated records, in one transaction, each event's log index
	// on its access record and removes its outbox row. It is idempotent:
	// an event already recorded at the same index is skipped, and one
	// whose record is gone (its member was deleted) only loses its outbox
	// row; an event already recorded at a different index is an error and
	// nothing is written.
	MarkIntegrated(ctx context.Context, positions []LogPosition) error
	// LogSize returns one more than the highest index MarkIntegrated ever
	// recorded, 0 if none.
	LogSize(ctx context.Context) (uint64, error)
	// LockFeeder takes the deployment's feeder lock without waiting: ok
	// is false while another holder (a node of the same deployment) has
	// it. The holder keeps it until Release, until its process ends, or
	// until the database frees it (see FeederLock.Held). Only the holder
	// runs the feeder, so that exactly one appends to the log.
	LockFeeder(ctx context.Context) (lock FeederLock, ok bool, err error)
	// EventLogIndex returns the log index of the event's entry, with
	// integrated false while it waits in the outbox. ENOTFOUND when no
	// access record and no agreement change (AgreementEvent) has that
	// event id.
	EventLogIndex(ctx context.Context, eventID [16]byte) (index uint64, integrated bool, err error)
}
