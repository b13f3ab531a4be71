// Package sqlstore implements glasshouse.Store once, over database/sql, for
// every SQL database glasshouse runs on. The sqlite and postgres packages
// open their database, describe how it differs in a Dialect, and hand both
// to Open; the queries, the business rules and the write path live here.
//
// Every write is one operation queued to a single writer goroutine per
// Store. The writer runs all queued operations (up to Config.MaxBatch) in one
// transaction, each inside its own SAVEPOINT so that a failing operation is
// rolled back alone and its error returned to its caller only (sends queued
// one after another run together, as one set of statements under one
// savepoint, and one by one if that fails), then commits,
// publishes the committed events in commit order, and only then acknowledges
// the callers: an acknowledged write is durable. Batches form while the
// previous commit is being flushed to disk, so many concurrent writers share
// one fsync (group commit) without any artificial delay.
//
// Rules that need data (friends only, blocks, group size, membership,
// idempotent sends) are checked inside the write transaction. Write
// transactions run one at a time, also across nodes sharing one PostgreSQL
// (see Dialect.SerializeWrites). Message ids are handed out from a counter
// row that each transaction reads and writes back, so they grow in commit
// order across conversations and nodes, without gaps (an id taken by an
// operation that fails is handed out again; a repeated send takes none); a
// conversation's seq is its last_seq plus one. A node fed by other nodes
// relies on the missing gaps to notice an event it missed, and reads it
// back with EventsAfter (see package natshub). Each serving node holds the
// database's node lock (LockNode), which keeps several nodes that do not
// share their events from serving one database.
//
// Access records (glasshouse.AccessStore) follow the same path: a record,
// its member's next counter and its outbox row are one operation, so a
// counter is spent only by a committed record and counters have no gaps.
// Records queued one after another run together as sends do (RecordWith's
// reads and writes first, each in order, then one statement per chunk for
// the members' secrets, their counters, the records and the outbox rows),
// and one by one if that fails.
// A change of a partner's agreement (an approval, a suspension, a
// resumption) writes its agreement_events row and its log entry's outbox
// row in the change's own transaction (agreementlog.go).
//
// Reads go to a separate pool and never wait for the writer. Queries are
// prepared once per pool and reused.
//
// On PostgreSQL a statement costs a network round trip more than its work,
// so statements that do not wait for each other go together, pipelined in
// one round trip (Dialect.Pipeline, a pgx batch): the writer queues what
// nothing waits for (its lock, savepoints, the writes of sends, the message
// counter) to go with the next statement, and a batch of sends takes four
// round trips whatever its size, a run of records two (plus the round trips
// of RecordWith's reads).
package sqlstore
