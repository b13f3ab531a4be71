package glasshouse

import "context"

// MemberSecretSize is the length of a member's secret in bytes.
const MemberSecretSize = 32

// AccountStore erases accounts (GDPR Art. 17) and keeps the per-member
// secrets that make the erasure final.
//
// Every member has a random secret of MemberSecretSize bytes, created with
// the member (or, for a member from before secrets existed, on first use).
// The store keeps it wrapped (encrypted) under a key-encryption key and
// encrypts the body of every message a member sends under a key derived from
// the sender's secret; the accountability log derives the member's tag key
// from it. Deleting the account deletes the secret, so that the member's
// message bodies no longer decrypt and the member's log entries can no longer
// be linked to them, while the rows that other members or the log need stay.
type AccountStore interface {
	// MemberSecret returns memberID's secret. ENOTFOUND if the member is
	// absent or deleted. Callers MUST derive their keys from it with a
	// label of their own (HKDF info) and MUST NOT store or log it.
	MemberSecret(ctx context.Context, memberID int64) ([]byte, error)

	// DeleteMember erases memberID's account in ONE transaction, or
	// changes nothing. ENOTFOUND if the member is absent or already
	// deleted.
	//
	// Deleted: the member's secret (the messages they sent no longer
	// decrypt, and stay as rows whose body nobody can read; the plain text
	// of messages stored before bodies were encrypted is blanked), their
	// sessions, friend requests both ways, friendships, blocks both ways,
	// grants with their scopes, picked conversations and relay addresses,
	// OAuth tokens and authorization requests, access records and access
	// counter (the log entries stay in the log, and those still waiting in
	// the outbox are still published), what they deleted for themselves,
	// and their operator role. They leave every conversation, group or
	// direct: the other members keep the conversation and its history, and
	// no one can send in a direct conversation whose other member is gone.
	//
	// Kept: the member's row, as an anonymous tombstone that keeps their id
	// from being handed out again: handle, email, display name, phone,
	// picture, password hash and creation time are cleared (the handle and
	// the email address are free for anyone at once), and the time of the
	// deletion is recorded. The tombstone is never returned: every lookup
	// by id or handle is ENOTFOUND, sessions cannot be created for it, and
	// its messages read back with SenderDeleted set and no text or handle.
	DeleteMember(ctx context.Context, memberID int64) error
}
