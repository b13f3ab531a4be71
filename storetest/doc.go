// Package storetest is the conformance suite that every implementation of
// glasshouse.Store runs: the sqlite and postgres packages call Run (and
// RunPublisher) from their own tests, so both stores are held to the same
// documented contract of MemberStore, SessionStore, FriendStore and
// ConversationStore, error codes included.
//
// Each subtest opens a fresh, empty store, so subtests run in parallel and can
// be selected with go test -run, for example -run 'Store/Friends/Block'.
// The suite needs no password hashing, clock or network: hashes are opaque
// strings, session expiry is checked through the now parameter, and every size
// is bounded so that a run on SQLite takes a few seconds.
package storetest
