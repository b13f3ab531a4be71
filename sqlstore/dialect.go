package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
)

// Dialect is what differs between the SQL databases a Store runs on. The
// Store's queries are written once, with ? placeholders, in SQL that every
// dialect accepts (RETURNING, ON CONFLICT DO NOTHING, EXISTS).
type Dialect struct {
	// Name names the database in errors, e.g. "sqlite".
	Name string

	// Rebind rewrites a query's ? placeholders into the database's own;
	// nil keeps them. See DollarPlaceholders.
	Rebind func(query string) string

	// IsUniqueViolation reports whether err is a unique or primary key
	// constraint violation.
	IsUniqueViolation func(err error) bool

	// SerializeWrites says the database lets several write transactions
	// run at once (PostgreSQL, several nodes). Each write transaction then
	// first locks the message counter row, so that write transactions run
	// one after another across nodes, message ids grow in commit order,
	// and two nodes can never deadlock each other. A database that already
	// runs one write transaction at a time (SQLite with BEGIN IMMEDIATE)
	// leaves it false.
	SerializeWrites bool

	// LockMigrations, if set, runs first in each migration transaction, so
	// that two processes starting together apply each migration once, and
	// do not both create schema_migrations. A database that runs one write
	// transaction at a time leaves it empty.
	LockMigrations string

	// TryLockFeeder and UnlockFeeder, if set, take and free the
	// deployment's feeder lock on one connection held for as long as the
	// lock is (a PostgreSQL session advisory lock, freed by the server if
	// the holder's connection drops). TryLockFeeder returns one boolean:
	// whether it got the lock. A database that one process owns (SQLite)
	// leaves them empty: the lock is then the Store's own.
	TryLockFeeder, UnlockFeeder string

	// TryLockNode and TryLockNodeShared, if set, take the deployment's
	// node lock without waiting, alone or shared, on one connection held
	// for as long as the lock is (see Store.LockNode); each returns one
	// boolean: whether it got the lock. UnlockNode frees either at once
	// (the connection is then closed too, but a server may take a moment
	// to notice). A database that one process owns leaves them empty.
	TryLockNode, TryLockNodeShared, UnlockNode string

	// Checkpoint, if set, runs on the readers' pool every
	// CheckpointInterval while the Store is open, so that moving the
	// write-ahead log into the database (an SQLite checkpoint) happens beside
	// the writer instead of inside its commits.
	Checkpoint string

	// ReadTx are the options of a read that runs several queries, chosen so
	// that they all see one snapshot.
	ReadTx sql.TxOptions

	// Pipeline, if set, runs stmts in order on driverConn (a connection of
	// the database's driver, in a transaction) in one round trip, setting
	// each one's RowsAffected and passing its rows to its Row. It returns
	// the first error, also set in the Err of the statement that failed; a
	// statement after one that failed must not take effect. Without it, the
	// statements of a write run one by one. See Statement.
	Pipeline func(ctx context.Context, driverConn any, stmts []*Statement) error

	// Migrations holds the numbered migrations, named like 0001_core.sql,
	// at its root.
	Migrations fs.FS
}

// DollarPlaceholders rewrites the ? placeholders of query into $1, $2, … as
// PostgreSQL wants them, leaving quoted text alone.
func DollarPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
