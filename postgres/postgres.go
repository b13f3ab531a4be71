package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is PostgreSQL's sqlstore.Dialect.
var Dialect = sqlstore.Dialect{
	Name:              "postgres",
	Rebind:            sqlstore.DollarPlaceholders,
	IsUniqueViolation: isUniqueViolation,
	SerializeWrites:   true,
	LockMigrations:    `SELECT pg_advisory_xact_lock(` + migrationLock + `)`,
	TryLockFeeder:     `SELECT pg_try_advisory_lock(` + FeederLock + `)`,
	UnlockFeeder:      `SELECT pg_advisory_unlock(` + FeederLock + `)`,
	TryLockNode:       `SELECT pg_try_advisory_lock(` + nodeLock + `)`,
	TryLockNodeShared: `SELECT pg_try_advisory_lock_shared(` + nodeLock + `)`,
	UnlockNode:        `SELECT pg_advisory_unlock_all()`, // on the lock's own connection
	ReadTx:            sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Pipeline:          pipeline,
	Migrations:        mustSub(migrations, "migrations"),
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// migrationLock is the advisory lock key that migrations take ("glasshse").
const migrationLock = "7452438631876686693"

// FeederLock is the advisory lock key of the deployment's one feeder
// ("glassfdr").
const FeederLock = "7452438631876551794"

// nodeLock is the advisory lock key that every serving node holds, shared
// with NATS and alone without ("glassnod"); see sqlstore.Store.LockNode.
const nodeLock = "7452438631877078884"

// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint failure.
const uniqueViolation = "23505"

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}

// Open connects to the PostgreSQL database at url (postgres://…), migrates
// it, and returns a store on it.
func Open(ctx context.Context, url string, cfg sqlstore.Config) (*sqlstore.Store, error) {
	writer, reader, err := OpenDB(ctx, url)
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

// OpenDB opens the two pools a store uses on the database at url: one
// connection for the writer, and a pool for the readers. It does not
// migrate.
func OpenDB(ctx context.Context, url string) (writer, reader *sql.DB, err error) {
	writer, err = sql.Open("pgx", url)
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	reader, err = sql.Open("pgx", url)
	if err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	reader.SetMaxOpenConns(16)
	reader.SetMaxIdleConns(16)
	return writer, reader, nil
}
