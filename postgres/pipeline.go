package postgres

import (
	"context"
	"fmt"

	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pipeline is the dialect's Pipeline: pgx sends the statements as one
// batch, ending in a single Sync, so that they take one round trip (and one
// more the first time, to prepare those it has not seen on this
// connection). After a statement fails, PostgreSQL skips the others up to
// the Sync.
func pipeline(ctx context.Context, driverConn any, stmts []*sqlstore.Statement) (err error) {
	c, ok := driverConn.(*stdlib.Conn)
	if !ok {
		return fmt.Errorf("pipeline: a connection of type %T, not pgx's", driverConn)
	}
	batch := &pgx.Batch{}
	for _, st := range stmts {
		batch.Queue(st.Query, st.Args...)
	}
	results := c.Conn().SendBatch(ctx, batch)
	defer func() {
		if cerr := results.Close(); err == nil {
			err = cerr
		}
	}()
	for _, st := range stmts {
		if st.Err = read(results, st); st.Err != nil {
			return st.Err
		}
	}
	return nil
}

// read reads the result of st, the next statement of results.
func read(results pgx.BatchResults, st *sqlstore.Statement) error {
	rows, err := results.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if st.Row != nil {
			if err := st.Row(rows); err != nil {
				return err
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	st.RowsAffected = rows.CommandTag().RowsAffected()
	return nil
}
