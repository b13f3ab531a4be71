// Package sqlite opens a glasshouse store on an SQLite database file, with
// modernc.org/sqlite (pure Go, no cgo). The store logic is sqlstore's; this
// package owns the connection settings and the SQLite migrations.
//
// The database runs in WAL mode with synchronous=FULL: every commit is
// fsync'd before a write is acknowledged. One connection writes (BEGIN
// IMMEDIATE, so other processes on the same file queue up behind it under
// busy_timeout) and a pool of query-only connections reads alongside it.
// The writer never checkpoints: the store moves the log into the database
// from a reader connection a few times a second, beside the commits rather
// than inside them.
package sqlite
