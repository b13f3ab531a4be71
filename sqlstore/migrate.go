package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"
)

// ErrSchemaNewer is returned by Open for a database whose schema
// was migrated by a newer glasshouse than this one: running on it could lose
// or corrupt data, so the binary must be upgraded first.
var ErrSchemaNewer = errors.New("database schema is newer than this binary")

// migration is one numbered SQL file.
type migration struct {
	version int64
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)

// loadMigrations reads the numbered migrations at the root of fsys, in order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	if fsys == nil {
		return nil, errors.New("no migrations")
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %q: name must be like 0001_core.sql", e.Name())
		}
		version, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %q: version must be a positive number", e.Name())
		}
		text, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}
		ms = append(ms, migration{version: version, name: e.Name(), sql: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}

// migrate brings db's schema up to d's newest migration. Each migration
// runs in its own transaction together with its row in schema_migrations,
// so a failed migration leaves no trace, and under d.LockMigrations, so that
// processes starting together apply it once. A database whose recorded
// version is newer than the newest migration is refused with ErrSchemaNewer.
func migrate(ctx context.Context, db *sql.DB, d Dialect, now func() time.Time) error {
	ms, err := loadMigrations(d.Migrations)
	if err != nil {
		return err
	}
	for {
		done, err := migrateOne(ctx, db, d, ms, now())
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the first migration of ms that db lacks, and reports
// whether there was none.
func migrateOne(ctx context.Context, db *sql.DB, d Dialect, ms []migration, now time.Time) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.LockMigrations); err != nil {
			return false, fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if newest := ms[len(ms)-1].version; current > newest {
		return false, fmt.Errorf("%w: the database is at version %d, this binary knows versions up to %d; upgrade glasshouse",
			ErrSchemaNewer, current, newest)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.version > current })
	if i < 0 {
		return true, tx.Commit()
	}
	m := ms[i]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	insert := `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`
	if d.Rebind != nil {
		insert = d.Rebind(insert)
	}
	if _, err := tx.ExecContext(ctx, insert, m.version, micros(now)); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return false, nil
}
