// Package graph serves the partner Graph API under /graph/v1: the only way a
// partner app reaches member data. It owns the routes, the JSON wire format
// and the per-partner rate limit; what may be done and shown is decided by
// the pure policy package, and who is calling by the authorization server
// (the Verifier, *oauth.Server).
//
// Every request takes the same steps (see API.serve):
//
//  1. verify the bearer token (401 invalid_token, or 403 with the
//     verifier's reason when the partner or the consent is not in force);
//  2. take a token from the partner's bucket (429 with Retry-After);
//  3. parse the request and load what the policy needs (prepare);
//  4. policy.Decide (403 with the policy's reason code);
//  5. run the endpoint's read (or write) and record the access in ONE
//     transaction (Recorder.RecordWith): the data read and its
//     glasshouse.AccessRecord, with its log entry, commit together or not
//     at all, and nothing is sent before the commit;
//  6. a request refused before or by the read is recorded as refused, in
//     a transaction of its own, before the refusal is sent; if an access
//     cannot be recorded the partner gets 503 and no data;
//  7. send the response, with the entry's Glasshouse-Receipt.
//
// A request runs to its record even when the client hangs up: its steps
// run in a context detached from the connection, with a deadline of its
// own. A refresh token or an ID token sent as a bearer is refused and
// recorded for the member it names.
//
// Every id a partner sees is its own: members by their pairwise id (the
// OpenID sub), conversations and messages by keyed hashes per partner, and
// page cursors encrypted; no internal id, handle, or other member's email
// or phone appears in any response.
package graph
