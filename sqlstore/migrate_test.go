package sqlstore_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/glasshouse/glasshouse/sqlstore"
)

// migrations makes a migrations folder of numbered files.
func migrations(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

// openWith opens a store on the database at location with b's dialect but
// the given migrations. The store is closed when the test ends.
func openWith(t *testing.T, b backend, location string, fsys fstest.MapFS) (*sqlstore.Store, error) {
	t.Helper()
	w, r, err := b.openDB(t.Context(), location)
	if err != nil {
		t.Fatal(err)
	}
	d := b.dialect
	d.Migrations = fsys
	s, err := sqlstore.Open(t.Context(), w, r, d, sqlstore.Config{})
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

// mustQuery returns the single-column rows of a query on s's readers.
func mustQuery(t *testing.T, s *sqlstore.Store, query string) []string {
	t.Helper()
	rows, err := s.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const versionsQuery = `SELECT CAST(version AS TEXT) FROM schema_migrations ORDER BY version`

var (
	first  = `CREATE TABLE notes (body TEXT NOT NULL)`
	second = `INSERT INTO notes (body) VALUES ('from 2')`
	third  = `INSERT INTO notes (body) VALUES ('from 3')`
)

func TestMigrateAppliesEachOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		fsys := migrations(map[string]string{"0001_notes.sql": first, "0002_note.sql": second})
		s, err := openWith(t, b, location, fsys)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		fsys["0003_more.sql"] = &fstest.MapFile{Data: []byte(third)}
		s, err = openWith(t, b, location, fsys)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustQuery(t, s, versionsQuery); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("recorded versions %v, want [1 2 3]", got)
		}
		if got := mustQuery(t, s, `SELECT body FROM notes ORDER BY body`); !slices.Equal(got, []string{"from 2", "from 3"}) {
			t.Errorf("notes %v: each migration must run exactly once", got)
		}
	})
}

func TestMigrateFailureLeavesNoTrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		fsys := migrations(map[string]string{
			"0001_notes.sql": first,
			"0002_broken.sql": `CREATE TABLE half (x BIGINT);
				INSERT INTO no_such_table VALUES (1);`,
		})
		if _, err := openWith(t, b, location, fsys); err == nil || !strings.Contains(err.Error(), "0002_broken.sql") {
			t.Fatalf("open with a broken migration: %v, want an error naming it", err)
		}
		fsys["0002_broken.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (x BIGINT)`)}
		s, err := openWith(t, b, location, fsys)
		if err != nil {
			t.Fatalf("open with the migration fixed: %v (did the failed one leave a table behind?)", err)
		}
		if got := mustQuery(t, s, versionsQuery); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("recorded versions %v, want [1 2]", got)
		}
	})
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		fsys := migrations(map[string]string{"0001_notes.sql": first, "0002_note.sql": second, "0007_later.sql": third})
		s, err := openWith(t, b, location, fsys)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		delete(fsys, "0007_later.sql")
		_, err = openWith(t, b, location, fsys)
		if !errors.Is(err, sqlstore.ErrSchemaNewer) {
			t.Fatalf("open an older binary on a newer database: %v, want ErrSchemaNewer", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "version 7") || !strings.Contains(msg, "up to 2") {
			t.Errorf("error %q should name the database's version 7 and the binary's 2", msg)
		}
	})
}

// TestMigrateConcurrently opens several stores on one new database at once,
// as nodes starting together would: each migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		fsys := migrations(map[string]string{"0001_notes.sql": first, "0002_note.sql": second, "0003_more.sql": third})
		var wg sync.WaitGroup
		stores := make([]*sqlstore.Store, 4)
		for i := range stores {
			wg.Go(func() {
				s, err := openWith(t, b, location, fsys)
				if err != nil {
					t.Errorf("open %d: %v", i, err)
				}
				stores[i] = s
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if got := mustQuery(t, stores[0], `SELECT body FROM notes ORDER BY body`); !slices.Equal(got, []string{"from 2", "from 3"}) {
			t.Errorf("notes %v: each migration must run exactly once", got)
		}
	})
}

func TestMigrationNames(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{"NoNumber", map[string]string{"core.sql": first}},
		{"NotSQL", map[string]string{"0001_core.txt": first}},
		{"Uppercase", map[string]string{"0001_Core.sql": first}},
		{"Zero", map[string]string{"0000_core.sql": first}},
		{"SameVersion", map[string]string{"0001_core.sql": first, "1_again.sql": second}},
		{"None", map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := backends[0]
			if _, err := openWith(t, b, b.newDB(t), migrations(tt.files)); err == nil {
				t.Errorf("open with migrations %v: no error", slices.Sorted(maps.Keys(tt.files)))
			} else {
				t.Log(err)
			}
		})
	}
}
