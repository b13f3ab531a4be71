// Package glasshouse holds the domain of the glasshouse platform, a social
// messaging network whose partner apps are held to account. Its concepts:
//
//   - Members (Member, Signup, Session) and their graph: friend requests,
//     friendships and blocks (FriendStore).
//   - Conversations, direct or group, and their messages (Conversation,
//     Message, NewMessage, MessageQuery), delivered live as Events through a
//     Hub to each member's open streams.
//   - Partners: third-party apps, each an OAuth client bound to a versioned
//     Agreement (scopes, purpose, retention, expiry, security assessment)
//     that an operator approves or suspends (Partner, PartnerStore).
//   - Grants: a member's consent to one partner, scope by scope
//     (Grant, GrantStore), and the OAuth state behind it (AuthRequest,
//     Token, OAuthStore).
//   - Access records: one per partner request, granted or denied, each
//     written with its transparency-log entry in the same transaction as
//     the data read (AccessRecord, AccessStore), and the partners' usage
//     counted from them (PartnerStatsStore).
//   - Operators, the members who may use the operator pages (OperatorStore),
//     and account deletion (AccountStore).
//   - The coded Error that every layer returns to its callers.
//
// The data scopes (DataScopes) are the only kinds of member data a partner
// can ever be granted; ScopeDescriptions says each in plain words.
//
// It imports only the standard library. Rules that need no storage (a valid
// handle, a message of 1 byte to 8 KiB of UTF-8, a valid agreement) live
// here as Validate methods; rules that need the data (friends only, blocks,
// membership, consent) are enforced by the stores inside the same
// transaction as the write. Store, in store.go, is everything the sqlite
// and postgres packages implement.
package glasshouse
