package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
)

// TestSchemaMatchesSQLite migrates an empty SQLite and an empty PostgreSQL
// database and compares what the two sets of migrations built: the same
// tables and views, the same columns of the same kinds, the same primary
// keys and unique constraints, and the same named indexes. The two
// migration folders are written by hand side by side; this is what keeps
// them one schema.
func TestSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	pgURL := pgtest.URL(t)
	pg, err := postgres.Open(ctx, pgURL, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pg.Close()
	path := filepath.Join(t.TempDir(), "glasshouse.db")
	lite, err := sqlite.Open(ctx, path, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()

	pgDB, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pgDB.Close()
	liteDB, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer liteDB.Close()

	want, got := sqliteSchema(t, liteDB), postgresSchema(t, pgDB)
	if len(want) < 20 {
		t.Fatalf("SQLite has only %d schema facts: the query reads nothing", len(want))
	}
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("SQLite has, PostgreSQL lacks: %s", f)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) {
			t.Errorf("PostgreSQL has, SQLite lacks: %s", f)
		}
	}
}

// columnKind names a column type by what it holds, the same for both
// databases' spellings.
func columnKind(t *testing.T, typ string) string {
	switch strings.ToLower(typ) {
	case "integer", "bigint", "int", "smallint":
		return "integer"
	case "text":
		return "text"
	case "blob", "bytea":
		return "bytes"
	case "boolean":
		return "boolean"
	}
	t.Errorf("column type %q has no kind here: add it", typ)
	return typ
}

// sqliteSchema lists the schema facts of a SQLite database, sorted.
func sqliteSchema(t *testing.T, db *sql.DB) []string {
	var facts []string
	objects := query(t, db, `SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'`)
	for _, o := range objects {
		kind, name := o[0], o[1]
		facts = append(facts, kind+" "+name)
		var pk []string
		for _, c := range query(t, db, fmt.Sprintf(`SELECT name, type, "notnull", pk FROM pragma_table_info('%s') ORDER BY pk`, name)) {
			if kind == "table" {
				facts = append(facts, fmt.Sprintf("column %s.%s %s", name, c[0], columnKind(t, c[1])))
			} else {
				facts = append(facts, fmt.Sprintf("column %s.%s", name, c[0]))
			}
			if c[3] != "0" {
				pk = append(pk, c[0])
			}
		}
		if len(pk) > 0 {
			facts = append(facts, fmt.Sprintf("primary key %s (%s)", name, strings.Join(pk, ", ")))
		}
		for _, ix := range query(t, db, fmt.Sprintf(`SELECT name, "unique", origin FROM pragma_index_list('%s')`, name)) {
			cols := strings.Join(column(query(t, db, fmt.Sprintf(`SELECT COALESCE(name, 'expr') FROM pragma_index_info('%s') ORDER BY seqno`, ix[0]))), ", ")
			switch ix[2] {
			case "u":
				facts = append(facts, fmt.Sprintf("unique %s (%s)", name, cols))
			case "c":
				facts = append(facts, fmt.Sprintf("index %s on %s (%s) unique=%v", ix[0], name, cols, ix[1] == "1"))
			}
		}
	}
	slices.Sort(facts)
	return facts
}

// postgresSchema lists the schema facts of a PostgreSQL database, sorted.
func postgresSchema(t *testing.T, db *sql.DB) []string {
	var facts []string
	for _, o := range query(t, db, `SELECT CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END, table_name
		FROM information_schema.tables WHERE table_schema = current_schema()`) {
		facts = append(facts, o[0]+" "+o[1])
	}
	for _, c := range query(t, db, `SELECT c.table_name, c.column_name, c.data_type, t.table_type
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = current_schema()`) {
		if c[3] == "VIEW" {
			facts = append(facts, fmt.Sprintf("column %s.%s", c[0], c[1]))
		} else {
			facts = append(facts, fmt.Sprintf("column %s.%s %s", c[0], c[1], columnKind(t, c[2])))
		}
	}
	// An index's columns in order, "expr" for an expression; the constraint
	// it backs, if it is the table's own primary key or unique constraint.
	for _, ix := range query(t, db, `SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
			COALESCE((SELECT c.contype FROM pg_constraint c
				WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid AND c.contype IN ('p', 'u')), ''),
			(SELECT string_agg(COALESCE(a.attname, 'expr'), ', ' ORDER BY k.ord)
				FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
				LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0)
		FROM pg_index ix
		JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema()`) {
		table, name, unique, primary, constraint, cols := ix[0], ix[1], ix[2] == "true", ix[3] == "true", ix[4], ix[5]
		switch {
		case primary:
			facts = append(facts, fmt.Sprintf("primary key %s (%s)", table, cols))
		case constraint == "u":
			facts = append(facts, fmt.Sprintf("unique %s (%s)", table, cols))
		default:
			facts = append(facts, fmt.Sprintf("index %s on %s (%s) unique=%v", name, table, cols, unique))
		}
	}
	slices.Sort(facts)
	return facts
}

// query returns every row of q as text.
func query(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func column(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[0])
	}
	return out
}
