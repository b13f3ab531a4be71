// Package postgres opens a glasshouse store on a PostgreSQL database,
// through pgx's database/sql driver. The store logic is sqlstore's; this
// package owns the connection settings and the PostgreSQL migrations.
//
// Commits are durable under PostgreSQL's default synchronous_commit. Several
// glasshouse nodes may share one database: their write transactions take
// turns on a lock (see sqlstore.Dialect.SerializeWrites), so message ids
// grow in commit order across nodes, and migrations are applied once under a
// table lock. Session advisory locks elect the log's one feeder and tell the
// nodes about each other (see sqlstore.Store.LockNode): nodes that share
// their events through NATS hold the node lock together, one without holds
// it alone.
package postgres
