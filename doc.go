// Package glasshouse holds the domain of the glasshouse messaging platform:
// members, sessions, friendships, conversations and messages, the store
// interfaces that the sqlite and postgres packages implement, the real-time
// event types, and the coded Error that every layer returns to its callers.
//
// It imports only the standard library. Rules that need no storage (a valid
// handle, a message of 1 byte to 8 KiB of UTF-8) live here as Validate
// methods; rules that need the data (friends only, blocks, membership) are
// enforced by the stores inside the same transaction as the write.
package glasshouse
