// Package testclock is the one settable clock of glasshouse's tests: the
// time source a test hands to every part that takes a Now function (the
// store, the authorization server, sign-in, rate limits, the portal), so
// that the test moves time for all of them at once.
//
// A Clock is safe for concurrent use: servers under test read it from
// their own goroutines while the test moves it.
//
// At makes a clock that stands still at a given time until the test moves
// it (Advance, Set). Running makes one that follows the real time, shifted
// by what the test moved it: for parts that also read time.Now themselves
// (zitadel/oidc stamps ID tokens with it and go-oidc checks them against
// it), whose times must agree with the clock's.
//
//	clk := testclock.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
//	l := ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 1, Now: clk.Now})
//	clk.Advance(time.Minute)
package testclock
