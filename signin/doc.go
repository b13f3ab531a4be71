// Package signin owns how a member is signed in to glasshouse, whichever
// door they come through: the member API (web), the member pages (ui and
// its packages) and the OAuth login and consent pages (oauth). One
// Service, shared by all three, holds:
//
//   - the session: a random token (32 bytes, unpadded base64url) of which
//     the store keeps only the SHA-256, lasting Config.Lifetime (30 days)
//     whichever door opened it;
//   - the session cookie, CookieName (HttpOnly, SameSite=Lax, Path=/,
//     Secure with Config.SecureCookies or over TLS): a member signed in on
//     one door is signed in on the others;
//   - the lookup: FromRequest for the API (a bearer token, else the
//     cookie), FromCookie for pages (the cookie only), Lookup for a token
//     hash held already (a stream checking that its session still lives);
//   - login (Login) and the password check behind it (CheckPassword), with
//     the limits of failed attempts per client address and per account
//     (attempts in flight count until they are done, only failures stay
//     counted) and the timing defence (an unknown handle costs one
//     argon2id verification, like a known one);
//   - logout: Logout, End (one session), EndAll (every session of a
//     member), each clearing the cookie;
//   - the forms' protection against cross-site request forgery: CSRFToken
//     and ParseForm, a signed double-submit token bound to the browser's
//     CSRF cookie (__Host- prefixed with secure cookies, so that no
//     sibling subdomain can plant one), to the session cookie the request
//     carries (a token made before sign-in, or for another session, is
//     refused), and to whatever else the caller names, such as the OAuth
//     page's purpose and its authorization request.
//
// Passwords and tokens never reach a log line.
package signin
