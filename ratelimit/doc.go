// Package ratelimit limits how often each key (an account, an IP address, a
// partner) may act, with one token bucket per key from golang.org/x/time/rate.
//
// Allow counts every attempt. Check and Take count only some, such as failed
// logins: Check before trying, Take when the try failed.
//
// Memory is bounded: keys live in least-recently-used order, a key whose
// bucket is full again is dropped (forgetting it loses nothing), and past
// MaxKeys the least recently used key is dropped too.
// Time comes from Config.Now, so tests control it.
package ratelimit
