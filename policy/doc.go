// Package policy decides what a partner may do and see through the Graph
// API. It is pure: no storage, no clock, no network; the caller loads the
// inputs and passes the time.
//
// A partner's effective permission is the intersection of five sets:
//
//	platform ceiling ∩ agreement ∩ member's grant ∩ token's scopes
//	                 ∩ the other member's own grant, where another member's data is involved
//
// and everything outside it is denied (deny by default). Decide answers one
// request with a Decision and, when it denies, a stable reason code (see the
// Reason constants) that the Graph API sends as its error code. The field
// filters Me, Friend and Message then say what a response may carry; each
// returns nothing unless Decide allows the request, so that no data can be
// shown on a path that skipped the decision.
//
// The kinds of request are a closed list (Kind): reading the member's own
// profile, listing friends who use the same partner, sending one message to
// one such friend, and reading a conversation the member picked. There is no
// kind that lists or reads a whole inbox, deletes a message, or reads a
// friend's email or phone, and the filters' result types have no field that
// could carry them: those accesses cannot be granted because they cannot
// be expressed.
package policy
