// Package oauthtest drives the partner platform's authorization code flow
// in tests, as a member's browser and a partner would: the one copy of
// authorize → login → consent → token that the tests of oauth, graph,
// demoapp and cmd/glasshouse share.
//
// It owns three things:
//
//   - Browser, a member's browser without JavaScript: a cookie jar, and
//     redirects followed, except one to a URL that starts with the
//     browser's StopAt (a partner's redirect URI that nothing serves in a
//     test), which it hands back as the page, with its Location. Get, Post
//     and Do return a Page; Submit posts a page's form with its CSRF token,
//     to the form's action resolved against the page's URL.
//
//   - Consent, what a member does on the login and consent pages, and
//     Browser.Answer, which does it: it signs in if the login page shows,
//     checks that no box comes ticked (consent is given, never presumed),
//     ticks the given scopes (all offered if nil), adds the other fields,
//     and allows or denies.
//
//   - Flow, a partner's side of one authorization request: the auth URL
//     from an *oauth2.Config with PKCE (S256), a state and a nonce; the
//     check of the redirect back (its state, no error); the exchange with
//     the verifier.
//
//     f := oauthtest.NewFlow(cfg)
//     b := oauthtest.NewBrowser(t, platformURL, cfg.RedirectURL)
//     tok := f.MustTokens(b, oauthtest.Consent{Handle: "alice", Password: oauthtest.Password}, "openid", "profile")
//
// Its pages are the authorization server's, which send their own
// Content-Security-Policy (a form-action for the partner's redirect URI)
// and follow redirects across the platform, the demo apps and partners:
// internal/pagetest, the client of the platform's own pages, stops at
// every redirect and holds every page to the member pages' policy, so the
// two are separate clients.
package oauthtest
