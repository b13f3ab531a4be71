package postgres_test

import (
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// TestStore runs the shared store suite on PostgreSQL, one new database per
// subtest.
func TestStore(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, func(t *testing.T) glasshouse.Store {
		return pgtest.Open(t, sqlstore.Config{})
	})
}

func TestStorePublisher(t *testing.T) {
	pgtest.Require(t)
	storetest.RunPublisher(t, func(t *testing.T, p glasshouse.Publisher) glasshouse.Store {
		return pgtest.Open(t, sqlstore.Config{Publisher: p})
	})
}
