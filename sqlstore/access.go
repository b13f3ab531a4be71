package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.AccessStore = (*Store)(nil)

// RecordAccess writes rec, its member's next counter and the outbox row of
// the entry that encode returns, in one transaction.
func (s *Store) RecordAccess(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error)) error {
	var counter uint64
	err := s.write(ctx, func(t *tx) error {
		var err error
		counter, err = t.recordAccess(rec, encode)
		return err
	})
	if err != nil {
		return fmt.Errorf("record access: %w", err)
	}
	rec.Counter = counter
	return nil
}

// RecordWith runs do and records rec in one transaction.
func (s *Store) RecordWith(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error), do func(context.Context, glasshouse.Within) error) error {
	var counter uint64
	var doErr error
	err := s.write(ctx, func(t *tx) error {
		if doErr = do(t.ctx, within{t}); doErr != nil {
			return doErr
		}
		var err error
		counter, err = t.recordAccess(rec, encode)
		return err
	})
	if doErr != nil {
		return doErr
	} else if err != nil {
		return fmt.Errorf("record access: %w", err)
	}
	rec.Counter = counter
	return nil
}

// within is a write transaction seen as glasshouse.Within: each method
// runs on the transaction, its context ignored (the transaction has its
// own).
type within struct{ t *tx }

func (w within) MemberByID(_ context.Context, id int64) (*glasshouse.Member, error) {
	return w.t.member(`m.id = ?`, id)
}

func (w within) FriendsWithGrants(_ context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]glasshouse.FriendGrant, error) {
	return w.t.friendsWithGrants(memberID, partnerID, scope, now, afterID, limit)
}

func (w within) Messages(_ context.Context, q glasshouse.MessageQuery) (*glasshouse.MessagePage, error) {
	return w.t.messagePage(q)
}

func (w within) Grant(_ context.Context, memberID, partnerID int64) (*glasshouse.Grant, error) {
	return w.t.grant(memberID, partnerID)
}

func (w within) CreateDirect(_ context.Context, memberID int64, other string) (*glasshouse.Conversation, bool, error) {
	return w.t.createDirect(memberID, other)
}

func (w within) SendMessage(_ context.Context, m glasshouse.NewMessage) (*glasshouse.Message, bool, error) {
	if err := m.Validate(); err != nil {
		return nil, false, err
	}
	return w.t.sendMessage(m)
}

// recordAccess takes the member's next access counter, encodes the entry
// with it, and inserts the record and its outbox row. Run under the
// operation's savepoint, a failure anywhere leaves no trace, the counter
// increment included.
func (t *tx) recordAccess(rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error)) (uint64, error) {
	if rec.EventID == ([16]byte{}) {
		return 0, errors.New("zero event id")
	}
	// The counter and the member's secret in one round trip, the record
	// and its outbox row in another (see tx.pipe).
	var counter int64
	var member memberKeyRow
	err := t.pipe(&Statement{Query: `INSERT INTO access_counters (member_id, last_counter) VALUES (?, 1)
		ON CONFLICT (member_id) DO UPDATE SET last_counter = access_counters.last_counter + 1
		RETURNING last_counter`, Args: []any{rec.MemberID}, Row: func(r interface{ Scan(...any) error }) error {
		return r.Scan(&counter)
	}}, &Statement{Query: memberKeyQuery, Args: []any{rec.MemberID}, Row: member.scan})
	if err != nil {
		return 0, fmt.Errorf("next counter: %w", err)
	}
	key, err := t.memberKeyFrom(rec.MemberID, member, true)
	if err != nil {
		return 0, fmt.Errorf("member secret: %w", err)
	}
	entry, err := encode(uint64(counter), key.secret)
	if err != nil {
		return 0, fmt.Errorf("encode entry: %w", err)
	}
	if len(entry) == 0 {
		return 0, errors.New("encode entry: empty entry")
	}
	record := &Statement{Query: `INSERT INTO access_records
		(member_id, counter, event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Args: []any{
		rec.MemberID, counter, rec.EventID[:], rec.PartnerID, rec.ClientID, rec.AgreementVersion, rec.Endpoint,
		strings.Join(rec.Scopes, " "), rec.Granted, rec.Reason, rec.Items, micros(rec.At)}}
	outbox := &Statement{Query: `INSERT INTO access_outbox (event_id, entry) VALUES (?, ?)`, Args: []any{rec.EventID[:], entry}}
	if err := t.pipe(record, outbox); err != nil {
		switch {
		case record.Err != nil && t.s.dialect.IsUniqueViolation(err):
			return 0, glasshouse.Errorf(glasshouse.ECONFLICT, "Event id %x is already recorded.", rec.EventID)
		case record.Err != nil:
			return 0, fmt.Errorf("insert record: %w", err)
		case outbox.Err != nil:
			return 0, fmt.Errorf("insert outbox row: %w", err)
		}
		return 0, err
	}
	return uint64(counter), nil
}

const accessColumns = `member_id, counter, event_id, partner_id, client_id, agreement_version, endpoint,
	scopes, granted, reason, items, at, log_index`

func scanAccess(row scanner) (*glasshouse.AccessRecord, error) {
	var r glasshouse.AccessRecord
	var eventID []byte
	var scopes string
	var at int64
	var index sql.NullInt64
	err := row.Scan(&r.MemberID, &r.Counter, &eventID, &r.PartnerID, &r.ClientID, &r.AgreementVersion, &r.Endpoint,
		&scopes, &r.Granted, &r.Reason, &r.Items, &at, &index)
	if err != nil {
		return nil, err
	}
	if len(eventID) != len(r.EventID) {
		return nil, fmt.Errorf("event id of %d bytes", len(eventID))
	}
	copy(r.EventID[:], eventID)
	r.Scopes = strings.Fields(scopes)
	r.At = fromMicros(at)
	r.LogIndex, r.Integrated = uint64(index.Int64), index.Valid
	return &r, nil
}

// MemberAccess lists memberID's access records after a counter.
func (s *Store) MemberAccess(ctx context.Context, memberID int64, after uint64, limit int) ([]*glasshouse.AccessRecord, error) {
	switch {
	case limit == 0:
		limit = glasshouse.DefaultPageSize
	case limit < 0 || limit > glasshouse.MaxPageSize:
		return nil, glasshouse.Errorf(glasshouse.EINVALID, "Limit must be 1 to %d.", glasshouse.MaxPageSize)
	}
	rows, err := s.read(ctx).query(`SELECT `+accessColumns+` FROM access_records
		WHERE member_id = ? AND counter > ? ORDER BY counter LIMIT ?`, memberID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("member access: %w", err)
	}
	defer rows.Close()
	recs := []*glasshouse.AccessRecord{}
	for rows.Next() {
		r, err := scanAccess(rows)
		if err != nil {
			return nil, fmt.Errorf("member access: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("member access: %w", err)
	}
	return recs, nil
}

// AccessCount returns memberID's access counter.
func (s *Store) AccessCount(ctx context.Context, memberID int64) (uint64, error) {
	var n int64
	err := s.read(ctx).queryRow(`SELECT last_counter FROM access_counters WHERE member_id = ?`, memberID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("access count: %w", err)
	}
	return uint64(n), nil
}

// PendingEntries returns the oldest outbox rows.
func (s *Store) PendingEntries(ctx context.Context, limit int) ([]glasshouse.OutboxEntry, error) {
	rows, err := s.read(ctx).query(`SELECT event_id, entry FROM access_outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending entries: %w", err)
	}
	defer rows.Close()
	out := []glasshouse.OutboxEntry{}
	for rows.Next() {
		var e glasshouse.OutboxEntry
		var id []byte
		if err := rows.Scan(&id, &e.Entry); err != nil {
			return nil, fmt.Errorf("pending entries: %w", err)
		}
		if len(id) != len(e.EventID) {
			return nil, fmt.Errorf("pending entries: event id of %d bytes", len(id))
		}
		copy(e.EventID[:], id)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending entries: %w", err)
	}
	return out, nil
}

// MarkIntegrated records the log indexes of events and removes their
// outbox rows, idempotently.
func (s *Store) MarkIntegrated(ctx context.Context, positions []glasshouse.LogPosition) error {
	if len(positions) == 0 {
		return nil
	}
	err := s.write(ctx, func(t *tx) error {
		var size int64
		if err := t.queryRow(`SELECT size FROM access_log`).Scan(&size); err != nil {
			return fmt.Errorf("read log size: %w", err)
		}
		for chunk := range slices.Chunk(positions, integrateChunk) {
			if err := t.markIntegrated(chunk); err != nil {
				return err
			}
		}
		for _, p := range positions {
			size = max(size, int64(p.Index)+1)
		}
		_, err := t.exec(`UPDATE access_log SET size = ?`, size)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark integrated: %w", err)
	}
	return nil
}

// integrateChunk is how many events markIntegrated takes at once: one
// statement looks their records up and one deletes their outbox rows. A
// shorter chunk repeats its last event id to fill the list, so that each
// statement has a single form, prepared once.
const integrateChunk = 128

// inChunk is the parameter list of an IN over integrateChunk values.
var inChunk = "(" + strings.Repeat("?, ", integrateChunk-1) + "?)"

// markIntegrated records the log indexes of at most integrateChunk events:
// a record without one gets it, a record already at that index is left
// alone, a record at another index is an error; then the events' outbox
// rows go, including those whose record is gone (its member was deleted).
func (t *tx) markIntegrated(ps []glasshouse.LogPosition) error {
	ids := make([]any, integrateChunk)
	for i := range ids {
		ids[i] = ps[min(i, len(ps)-1)].EventID[:]
	}
	had, err := t.logIndexes(ids)
	if err != nil {
		return err
	}
	for _, p := range ps {
		index := int64(p.Index)
		if index < 0 {
			return fmt.Errorf("event %x: log index %d out of range", p.EventID, p.Index)
		}
		h, ok := had[p.EventID]
		switch {
		case !ok:
			// An agreement change, or an access whose member was deleted:
			// only the outbox row, and the record without its member, are
			// left.
			for _, table := range []string{"agreement_events", "erased_access_records"} {
				if _, err := t.exec(`UPDATE `+table+` SET log_index = ? WHERE event_id = ?`, index, p.EventID[:]); err != nil {
					return fmt.Errorf("event %x: %w", p.EventID, err)
				}
			}
		case h.Valid && h.Int64 != index:
			return fmt.Errorf("event %x is already at log index %d, not %d: the log would hold it twice", p.EventID, h.Int64, index)
		case !h.Valid:
			if _, err := t.exec(`UPDATE access_records SET log_index = ? WHERE event_id = ?`, index, p.EventID[:]); err != nil {
				return fmt.Errorf("event %x: %w", p.EventID, err)
			}
			had[p.EventID] = sql.NullInt64{Int64: index, Valid: true}
		}
	}
	if _, err := t.exec(`DELETE FROM access_outbox WHERE event_id IN `+inChunk, ids...); err != nil {
		return fmt.Errorf("delete outbox rows: %w", err)
	}
	return nil
}

// logIndexes returns the log index (NULL while pending) of each event id in
// ids that has an access record.
func (t *tx) logIndexes(ids []any) (map[[16]byte]sql.NullInt64, error) {
	rows, err := t.query(`SELECT event_id, log_index FROM access_records WHERE event_id IN `+inChunk, ids...)
	if err != nil {
		return nil, fmt.Errorf("read log indexes: %w", err)
	}
	defer rows.Close()
	had := make(map[[16]byte]sql.NullInt64, len(ids))
	for rows.Next() {
		var id []byte
		var index sql.NullInt64
		if err := rows.Scan(&id, &index); err != nil {
			return nil, fmt.Errorf("read log indexes: %w", err)
		}
		if len(id) != 16 {
			return nil, fmt.Errorf("read log indexes: event id of %d bytes", len(id))
		}
		had[[16]byte(id)] = index
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read log indexes: %w", err)
	}
	return had, nil
}

// LogSize returns one more than the highest log index recorded.
func (s *Store) LogSize(ctx context.Context) (uint64, error) {
	var size int64
	if err := s.read(ctx).queryRow(`SELECT size FROM access_log`).Scan(&size); err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	return uint64(size), nil
}

// EventLogIndex returns where an event's entry is in the log.
func (s *Store) EventLogIndex(ctx context.Context, eventID [16]byte) (uint64, bool, error) {
	var index sql.NullInt64
	err := s.read(ctx).queryRow(`SELECT log_index FROM access_records WHERE event_id = ?
		UNION ALL SELECT log_index FROM agreement_events WHERE event_id = ?`, eventID[:], eventID[:]).Scan(&index)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, glasshouse.Errorf(glasshouse.ENOTFOUND, "No access has event id %x.", eventID)
	} else if err != nil {
		return 0, false, fmt.Errorf("event log index: %w", err)
	}
	return uint64(index.Int64), index.Valid, nil
}
