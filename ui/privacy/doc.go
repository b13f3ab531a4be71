// Package privacy is the privacy center, the member's pages about partner
// apps and their own data:
//
//	GET  /privacy                              connected apps: scopes, purpose, consent expiry, relay, last access
//	GET  /privacy/apps/{partner}               one app's access history: a chart and a table of events
//	POST /privacy/apps/{partner}/revoke        disconnect the app (its tokens die at once)
//	POST /privacy/apps/{partner}/revoke-scope  withdraw one scope (scope=…)
//	POST /privacy/apps/{partner}/relay         turn the relay address off or on (relay=off|on)
//	POST /privacy/apps/{partner}/reconfirm     renew the consent for another 90 days
//	POST /privacy/export                       download my data: a zip attachment (GDPR Art. 15 and 20)
//	GET  /privacy/delete                       what deleting the account does, and the form to confirm
//	POST /privacy/delete                       delete the account (Art. 17) after handle and password
//
// The server renders every page from the store; it does not vouch for the
// log. Each event's "verified" mark is computed by the member's browser
// (static/js/verify.js): it reads the member's events with their log
// entries and inclusion proofs from GET /api/v1/me/access, the log key from
// /log/key, hashes each entry with WebCrypto SHA-256 (RFC 6962 leaf hash),
// folds the proof up to a root, compares it with the root of the signed
// checkpoint, checks the checkpoint's Ed25519 signature, and checks that the
// entry says what the row of the page says. The pages need those routes on
// the same site: web.Config.AccessLog set, and accesslog.Handler's routes.
//
// The overview also shows what a member needs to check the log without
// this server: their member key (Config.MemberKey), their access count,
// and the `glasshouse audit trail` command with both and the server's
// public URL filled in, which static/js/copy.js copies with one click.
//
// Changes go through the same store calls as the JSON API (web/app.go):
// revoking a grant or a scope revokes the affected tokens in the same
// transaction. Exporting and deleting an account are done by the functions
// the caller wires in (Config.Export, Config.DeleteAccount).
package privacy
