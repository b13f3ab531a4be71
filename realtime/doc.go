// Package realtime fans committed events out to the open streams of each
// member.
//
// Hub is the in-process implementation of glasshouse.Hub for a single node:
// each subscription has a bounded buffer, and Publish never blocks. A
// subscriber whose buffer is full is closed rather than waited for; its
// stream ends and the client resumes from the last message id it saw, so a
// slow client never holds up the store's writer or other members. Watch
// opens the same feed without a channel, for subscribers that keep no
// goroutine waiting (an idle WebSocket stream in package web). It
// serves one node: a message committed through another node does not reach
// its streams. Package natshub shares events between the nodes of one
// database through NATS, and delivers them to its streams through a Hub of
// this package.
package realtime
