package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
)

// backend is a database the tests run on.
type backend struct {
	name string
	// newDB returns the location of a new, empty database.
	newDB func(tb testing.TB) string
	// openAt opens a store on the database at a location.
	openAt func(ctx context.Context, location string, cfg sqlstore.Config) (*sqlstore.Store, error)
	// openDB opens a store's two pools on the database at a location.
	openDB  func(ctx context.Context, location string) (writer, reader *sql.DB, err error)
	dialect sqlstore.Dialect
	// commitFailure are statements that succeed but make COMMIT fail.
	commitFailure []string
	// refuseVia are statements after which the database refuses to store a
	// message sent via the partner "refused".
	refuseVia []string
}

var backends = []backend{
	{
		name:    "sqlite",
		newDB:   func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "glasshouse.db") },
		openAt:  sqlite.Open,
		openDB:  sqlite.OpenDB,
		dialect: sqlite.Dialect,
		commitFailure: []string{
			`PRAGMA defer_foreign_keys = ON`,
			`INSERT INTO sessions (token_hash, member_id, created_at, expires_at) VALUES (x'00', 12345, 0, 0)`,
		},
		refuseVia: []string{
			`CREATE TRIGGER refuse_via BEFORE INSERT ON messages WHEN NEW.via_partner = 'refused'
			BEGIN SELECT RAISE(ABORT, 'refused'); END`,
		},
	},
	{
		name:    "postgres",
		newDB:   pgtest.URL,
		openAt:  postgres.Open,
		openDB:  postgres.OpenDB,
		dialect: postgres.Dialect,
		commitFailure: []string{
			`CREATE TEMP TABLE deferred (x BIGINT UNIQUE DEFERRABLE INITIALLY DEFERRED)`,
			`INSERT INTO deferred VALUES (1), (1)`,
		},
		refuseVia: []string{
			`CREATE FUNCTION refuse_via() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.via_partner = 'refused' THEN RAISE EXCEPTION 'refused'; END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER refuse_via BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_via()`,
		},
	},
}

// mustOpenAt opens a store on the database at location, closed when tb ends.
func (b backend) mustOpenAt(tb testing.TB, location string, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	s, err := b.openAt(tb.Context(), location, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// open opens a store on a new database, closed when tb ends.
func (b backend) open(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	return b.mustOpenAt(tb, b.newDB(tb), cfg)
}

// forEachBackend runs test once per backend, as parallel subtests.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// insert returns an operation that adds a scratch row to counters.
func insert(name string) func(sqlstore.TestTx) error {
	return func(tx sqlstore.TestTx) error {
		return tx.Exec(`INSERT INTO counters (name, value) VALUES (?, 0)`, name)
	}
}

// mustScratch returns the names in counters other than message, sorted.
func mustScratch(t *testing.T, s *sqlstore.Store) []string {
	t.Helper()
	rows, err := s.Query(t.Context(), `SELECT name FROM counters WHERE name <> 'message' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// blockWriter queues an operation that holds the writer until the returned
// function is called, and returns once the writer runs it. The writes
// queued meanwhile form the next batch.
func blockWriter(t *testing.T, s *sqlstore.Store) (release func()) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(t.Context(), func(sqlstore.TestTx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("blocking write: %v", err)
		}
	}
}

// waitQueued waits until n writes are queued.
func waitQueued(t *testing.T, s *sqlstore.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", s.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queue submits ops in order, each once the previous one is queued, and
// returns the channels their results arrive on.
func queue(t *testing.T, s *sqlstore.Store, ops ...func(sqlstore.TestTx) error) []chan error {
	t.Helper()
	results := make([]chan error, len(ops))
	for i, op := range ops {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.Write(t.Context(), op) }()
		waitQueued(t, s, i+1)
	}
	return results
}

// same reports whether every element of xs equals the first.
func same[T comparable](xs []T) bool {
	return !slices.ContainsFunc(xs, func(x T) bool { return x != xs[0] })
}
