// Package demoapp serves the three partner apps of the demo world under
// /demo/: Streamflix (share what you watch with a friend), Shopzon (sign in,
// order confirmations to a relay address) and Searchly (find friends who use
// it). They run in the glasshouse binary for convenience only: each is a
// separate OAuth client that reaches the platform over HTTP, through the
// authorization code flow with PKCE and the public Graph API, exactly as an
// outside partner would. Nothing here calls the platform's internals.
//
// Each app looks like a small real app of its own: its colours, its logo
// (SVG files under static/, served with versioned URLs), a home page that
// says what the app does with the data once connected, the "Connect your
// glasshouse account" button and a visible Disconnect. The pages run no
// script and load nothing from elsewhere; their Content-Security-Policy
// says so.
package demoapp
