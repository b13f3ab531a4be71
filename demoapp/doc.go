// Package demoapp serves the three partner apps of the demo world under
// /demo/: Streamflix (share what you watch with a friend), Shopzon (sign in,
// order confirmations to a relay address) and Searchly (find friends who use
// it). They run in the glasshouse binary for convenience only: each is a
// separate OAuth client that reaches the platform over HTTP, through the
// authorization code flow with PKCE and the public Graph API, exactly as an
// outside partner would. Nothing here calls the platform's internals.
package demoapp
