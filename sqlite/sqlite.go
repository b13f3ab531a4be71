package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's sqlstore.Dialect.
var Dialect = sqlstore.Dialect{
	Name:              "sqlite",
	IsUniqueViolation: isUniqueViolation,
	ReadTx:            sql.TxOptions{ReadOnly: true},
	Checkpoint:        "PRAGMA wal_checkpoint(PASSIVE)",
	Migrations:        mustSub(migrations, "migrations"),
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// isBusy reports whether err is SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// pragmas apply to every connection. synchronous=FULL in WAL mode fsyncs
// the log at each commit: an acknowledged write survives a power cut. A log
// that grew during a burst is cut back to 64 MiB once checkpointed.
// secure_delete(FAST) zeroes deleted rows on the pages a write touches, so
// that a deleted account's wrapped secret does not linger in free space.
var pragmas = []string{"busy_timeout(5000)", "foreign_keys(1)", "journal_mode(WAL)", "journal_size_limit(67108864)", "synchronous(FULL)", "secure_delete(FAST)"}

// dsn returns the data source name of the database file at path, for the
// writer connection or, with readOnly, a reader connection.
func dsn(path string, readOnly bool) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path))
	sep := "?"
	add := func(kv string) {
		b.WriteString(sep)
		b.WriteString(kv)
		sep = "&"
	}
	for _, p := range pragmas {
		add("_pragma=" + p)
	}
	if readOnly {
		add("_pragma=query_only(1)")
	} else {
		// The store checkpoints on a reader (query_only still lets a
		// connection checkpoint), so that commits do not pay for it.
		add("_pragma=wal_autocheckpoint(0)")
		add("_txlock=immediate")
		// The writer runs each operation, and each run of sends, under a
		// savepoint, whose journal of the pages it changes spills to a
		// temporary file past a few dozen KiB: a write system call for
		// each page changed after that. In memory it stays as large as
		// the operation's changes.
		add("_pragma=temp_store(MEMORY)")
	}
	return b.String()
}

// Open opens (creating it and its folder if needed) the SQLite database at
// path, migrates it, and returns a store on it.
func Open(ctx context.Context, path string, cfg sqlstore.Config) (*sqlstore.Store, error) {
	writer, reader, err := OpenDB(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := sqlstore.Open(ctx, writer, reader, Dialect, cfg)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	return s, nil
}

// OpenDB opens the two pools of the database at path that a store uses: a
// single writer connection, and query-only readers. It creates the file and
// its folder if needed, but does not migrate.
func OpenDB(ctx context.Context, path string) (writer, reader *sql.DB, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("open sqlite: %w", err)
	}
	writer, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One connection writes; it stays open, with its prepared statements.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The writer connects first, so that the file is in WAL mode before a
	// query-only reader opens it.
	// Switching a new file to WAL takes an exclusive lock without waiting
	// on busy_timeout, so processes opening one new database together can
	// get SQLITE_BUSY: retry that, for a bounded time.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err = writer.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	return writer, reader, nil
}
