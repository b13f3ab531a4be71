package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvVar names the environment variable holding the URL of a PostgreSQL
// server on which tests may create and drop databases.
const EnvVar = "GLASSHOUSE_TEST_POSTGRES"

var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// Require skips tb unless EnvVar names a server, and returns its URL.
func Require(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping PostgreSQL tests in -short mode (the quick tier); .ci/run runs them")
	}
	server := os.Getenv(EnvVar)
	if server == "" {
		tb.Skipf("%s is not set: skipping PostgreSQL tests (set it to a URL such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)", EnvVar)
	}
	return server
}

// URL creates a new, empty database for tb and returns its URL. The
// database is dropped when tb ends. tb is skipped if EnvVar is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	server := Require(tb)
	admin.once.Do(func() { admin.db, admin.err = sql.Open("pgx", server) })
	if admin.err != nil {
		tb.Fatalf("pgtest: %v", admin.err)
	}
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("pgtest: %s: %v", EnvVar, err)
	}
	name := "glasshouse_test_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The name is ours, made of base32 letters and digits: safe to quote.
	if _, err := admin.db.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE "%s"`, name)); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.db.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE "%s" WITH (FORCE)`, name)); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open opens a store on a new database for tb, closed when tb ends.
func Open(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), URL(tb), cfg)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("pgtest: close: %v", err)
		}
	})
	return s
}
