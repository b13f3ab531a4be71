package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Purge deletes sessions, authorization requests and token families that
// expired more than glasshouse.PurgeAfter before now, and the rate limits'
// buckets that are full again.
func (s *Store) Purge(ctx context.Context, now time.Time) (int64, error) {
	cutoff := micros(now.Add(-glasshouse.PurgeAfter))
	var n int64
	err := s.write(ctx, func(t *tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM sessions WHERE expires_at < ?`, []any{cutoff}},
			{`DELETE FROM auth_requests WHERE expires_at < ? AND code_expires_at < ?`, []any{cutoff, cutoff}},
			{`DELETE FROM tokens WHERE family_id IN
				(SELECT family_id FROM tokens GROUP BY family_id HAVING MAX(expires_at) < ?)`, []any{cutoff}},
			{`DELETE FROM rate_buckets WHERE tat < ?`, []any{micros(now)}},
		} {
			k, err := t.affected(q.sql, q.args...)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	return n, nil
}
