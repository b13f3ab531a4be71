// Package portal serves the partner portal and the operator pages.
//
// The partner portal, /developers, is public: it says what the platform
// offers partners and on what rules (consent per scope, every access
// logged, a receipt for each), and links to the partner guide. The guides
// of package docs are pages of their own at /docs/{name}.md, rendered once
// from their Markdown with goldmark (no raw HTML, no script links), with
// their list at /docs/. A partner signs in
// with its OAuth client id and secret; the portal then keeps a short-lived
// partner session in a cookie of its own (HMAC-signed, HttpOnly, path
// /developers), unrelated to member sessions. The dashboard shows the
// partner its agreement and its versions, its approved scopes, its usage
// and refusals over the last 30 days, and its latest receipts.
//
// The operator pages, /admin, are for members whom `glasshouse operator
// add` named. To anyone else, signed in or not, every /admin route answers
// exactly as a path that does not exist. An operator sees the partners and
// the agreements waiting for approval, and approves, suspends and resumes
// through the same store methods as `glasshouse partner`, whose rules (such
// as the security assessment that messages.read needs) live in the store.
package portal
