package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse/ratelimit"
)

var _ ratelimit.Buckets = (*Store)(nil)

// TakeToken is ratelimit.Buckets.TakeToken on the rate_buckets table: one
// conditional upsert moves the bucket's theoretical arrival time (tat) on
// when the event is admitted, and leaves it alone when not, so that nodes
// taking tokens at once never admit more than the bucket holds.
func (s *Store) TakeToken(ctx context.Context, name, key string, now time.Time, every time.Duration, burst int) (ok bool, retryAfter time.Duration, err error) {
	at, step := micros(now), every.Microseconds()
	limit := int64(burst) * step
	err = s.write(ctx, func(t *tx) error {
		var tat int64
		err := t.queryRow(`INSERT INTO rate_buckets (name, key, tat) VALUES (?, ?, ?)
			ON CONFLICT (name, key) DO UPDATE
			SET tat = (CASE WHEN rate_buckets.tat > ? THEN rate_buckets.tat ELSE ? END) + ?
			WHERE (CASE WHEN rate_buckets.tat > ? THEN rate_buckets.tat ELSE ? END) + ? - ? <= ?
			RETURNING tat`,
			name, key, at+step, at, at, step, at, at, step, at, limit).Scan(&tat)
		if err == nil {
			ok = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Refused: the bucket fills enough for one event at
		// tat + every - burst × every.
		if err := t.queryRow(`SELECT tat FROM rate_buckets WHERE name = ? AND key = ?`, name, key).Scan(&tat); err != nil {
			return err
		}
		retryAfter = time.Duration(tat+step-limit-at) * time.Microsecond
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", name, err)
	}
	return ok, retryAfter, nil
}

// ReturnToken is ratelimit.Buckets.ReturnToken: it moves the bucket's tat
// back by one event.
func (s *Store) ReturnToken(ctx context.Context, name, key string, every time.Duration) error {
	err := s.write(ctx, func(t *tx) error {
		_, err := t.exec(`UPDATE rate_buckets SET tat = tat - ? WHERE name = ? AND key = ?`, every.Microseconds(), name, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("rate limit %s: %w", name, err)
	}
	return nil
}
