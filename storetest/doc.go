// Package storetest is the conformance suite that every implementation of
// glasshouse.Store runs: the sqlite and postgres packages call Run (and
// RunPublisher) from their own tests, so both stores are held to the same
// documented contract of MemberStore, SessionStore, FriendStore,
// ConversationStore, PartnerStore, GrantStore and OAuthStore, error codes
// included.
//
// Each subtest opens a fresh, empty store, so subtests run in parallel and can
// be selected with go test -run, for example -run 'Store/Friends/Block'.
// The suite needs no password hashing, clock or network: hashes are opaque
// strings, session, code and token expiry is checked through the now
// parameters, and every size is bounded so that a run on SQLite takes a few
// seconds. Only partner registration reads the store's own clock (an
// agreement must end after it, an assessment must not be later), so the
// suite's agreements end in 2100 and its assessments date from 2024.
package storetest
