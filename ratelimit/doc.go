// Package ratelimit limits how often each key (an account, an IP address, a
// partner) may act, with one token bucket per key from golang.org/x/time/rate.
//
// Allow counts every attempt. Attempt counts only those that fail, such
// as wrong passwords: the attempt holds a token while it runs and gives it
// back when it succeeds.
//
// The buckets live in the process, or, with Config.Shared, in a store
// that every node of a cluster shares (shared.go), so that a limit holds
// for the whole cluster.
//
// Memory is bounded: keys live in least-recently-used order, a key whose
// bucket is full again is dropped (forgetting it loses nothing), and past
// MaxKeys the least recently used key is dropped too.
// Time comes from Config.Now, so tests control it.
package ratelimit
