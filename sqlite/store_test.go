package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// MustOpen opens a store on a new SQLite file in tb's temporary folder,
// closed when tb ends.
func MustOpen(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "data", "glasshouse.db"), cfg)
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

// TestStore runs the shared store suite on SQLite, one new file per subtest.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) glasshouse.Store {
		return MustOpen(t, sqlstore.Config{})
	})
}

func TestStorePublisher(t *testing.T) {
	storetest.RunPublisher(t, func(t *testing.T, p glasshouse.Publisher) glasshouse.Store {
		return MustOpen(t, sqlstore.Config{Publisher: p})
	})
}
