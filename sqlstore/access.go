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

// An access record takes the member's next counter, the member's secret
// (to tag the log entry), and inserts the record and its outbox row.
// Records that the writer finds queued one after another run together (see
// runRecords), as runs of sends do: one statement per chunk of records reads
// their members' secrets, one moves their counters, one inserts the records
// and one their outbox rows, instead of four statements and a savepoint
// for each. On PostgreSQL a run of records of up to 32 members takes two
// round trips, besides those of RecordWith's reads. A single record is a
// run of one.

// recording is one RecordAccess or RecordWith: its request and, once run,
// its outcome.
type recording struct {
	rec     *glasshouse.AccessRecord
	encode  func(counter uint64, memberSecret []byte) ([]byte, error)
	do      func(ctx context.Context, tx glasshouse.Within) error // RecordWith's; nil for RecordAccess
	doErr   error                                                 // do's error: nothing of the op is written
	counter uint64                                                // the record's counter, once written
}

// RecordAccess writes rec, its member's next counter and the outbox row of
// the entry that encode returns, in one transaction.
func (s *Store) RecordAccess(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error)) error {
	return s.record(ctx, &recording{rec: rec, encode: encode})
}

// RecordWith runs do and records rec in one transaction.
func (s *Store) RecordWith(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error), do func(context.Context, glasshouse.Within) error) error {
	return s.record(ctx, &recording{rec: rec, encode: encode, do: do})
}

// record queues r as an op that runs alone (fn) or in a run of records
// (runRecords), waits for it, and sets r.rec.Counter once it committed.
func (s *Store) record(ctx context.Context, r *recording) error {
	if r.rec.EventID == ([16]byte{}) {
		return errors.New("record access: zero event id")
	}
	err := s.submit(&op{ctx: ctx, record: r, fn: func(t *tx) error {
		r.doErr = nil
		if r.do != nil {
			if r.doErr = r.do(t.ctx, within{t: t}); r.doErr != nil {
				return r.doErr
			}
		}
		if err := t.recordAccesses([]*recording{r}); err != nil {
			return err
		}
		if err := t.flush(); t.s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "Event id %x is already recorded.", r.rec.EventID)
		} else if err != nil {
			return fmt.Errorf("insert record: %w", err)
		}
		return nil
	}})
	switch {
	case r.doErr != nil:
		return r.doErr
	case err != nil:
		return fmt.Errorf("record access: %w", err)
	}
	r.rec.Counter = r.counter
	return nil
}

// runRecords runs a run of queued records in bt's transaction, under one
// savepoint, and reports whether it did: each op's do first, in order, then
// the records of those whose do succeeded, together. If it did not (a
// statement failed, a member was gone, a do failed after writing), nothing
// of the run is left and the caller runs its ops one by one, as every other
// op, so that a failure is its op's alone. The error means the transaction
// is unusable.
func (s *Store) runRecords(bt *tx, ops []*op) (ok bool, err error) {
	sp := bt.savepoint("records")
	fail := func() (bool, error) { return false, sp.rollback() } // one by one next
	var rs []*recording
	var recorded, refused []*op // refused by their do, which wrote nothing
	var events [][]glasshouse.Event
	for _, o := range ops {
		r := o.record
		r.doErr = nil
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		t := &tx{ctx: context.WithoutCancel(o.ctx), s: s, pool: s.writer, sqlTx: bt.sqlTx, batch: bt.batch, pl: bt.pl}
		if r.do != nil {
			if r.doErr = r.do(t.ctx, within{t: t}); r.doErr != nil {
				if t.wrote {
					return fail() // its writes must go, and only a savepoint of its own can take them
				}
				refused = append(refused, o)
				continue
			}
		}
		rs = append(rs, r)
		recorded = append(recorded, o)
		events = append(events, t.events)
	}
	if err := bt.recordAccesses(rs); err != nil {
		return fail()
	}
	bt.saveMessageCounter()
	sp.release()
	if err := bt.flush(); err != nil {
		return fail()
	}
	for i, o := range recorded {
		o.events = events[i]
	}
	for _, o := range refused {
		o.err = o.record.doErr
	}
	return true, nil
}

// recordsAhead returns how many ops at the start of ops are records.
func recordsAhead(ops []*op) int {
	for i, o := range ops {
		if o.record == nil {
			return i
		}
	}
	return len(ops)
}

// within is a write transaction seen as glasshouse.Within: each method
// runs on the transaction, its context ignored (the transaction has its
// own). Its writes set t.wrote.
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
	w.t.wrote = true
	return w.t.createDirect(memberID, other)
}

func (w within) SendMessage(_ context.Context, m glasshouse.NewMessage) (*glasshouse.Message, bool, error) {
	if err := m.Validate(); err != nil {
		return nil, false, err
	}
	w.t.wrote = true
	return w.t.sendMessage(m)
}

// recordChunk is how many members, or records, one statement of
// recordAccesses takes at most.
const recordChunk = 32

// recordAccesses writes rs, in order, as if one after another: it reads
// their members' secrets and moves each member's counter by the number of
// its records (a member's records take consecutive counters, in order),
// encodes each entry, and queues the inserts of the records and their
// outbox rows (see later): the caller runs them, and only then are the
// records written. An error (a member is gone: ENOTFOUND) leaves t's
// writes incomplete: the caller rolls back.
func (t *tx) recordAccesses(rs []*recording) error {
	var ids []int64 // the members, each once
	n := map[int64]int64{}
	for _, r := range rs {
		if n[r.rec.MemberID] == 0 {
			ids = append(ids, r.rec.MemberID)
		}
		n[r.rec.MemberID]++
	}
	rows := make(map[int64]memberKeyRow, len(ids))
	last := make(map[int64]int64, len(ids))
	for chunk := range slices.Chunk(ids, recordChunk) {
		in := make([]any, recordChunk) // a shorter chunk repeats its last id: one form of the query
		for i := range in {
			in[i] = chunk[min(i, len(chunk)-1)]
		}
		counters := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			counters = append(counters, id, n[id])
		}
		// The secrets and the counters in one round trip: a member who
		// turns out to be gone fails the whole, counters included.
		err := t.pipe(&Statement{Query: `SELECT m.id, m.deleted_at, k.wrapped FROM members m
			LEFT JOIN member_keys k ON k.member_id = m.id WHERE m.id IN ` + valuesList(1, recordChunk), Args: in,
			Row: func(r interface{ Scan(...any) error }) error {
				var id int64
				row := memberKeyRow{found: true}
				if err := r.Scan(&id, &row.deleted, &row.wrapped); err != nil {
					return err
				}
				rows[id] = row
				return nil
			}}, &Statement{Query: `INSERT INTO access_counters (member_id, last_counter) VALUES ` + valuesList(len(chunk), 2) + `
			ON CONFLICT (member_id) DO UPDATE SET last_counter = access_counters.last_counter + excluded.last_counter
			RETURNING member_id, last_counter`, Args: counters,
			Row: func(r interface{ Scan(...any) error }) error {
				var id, c int64
				if err := r.Scan(&id, &c); err != nil {
					return err
				}
				last[id] = c
				return nil
			}})
		if err != nil {
			return fmt.Errorf("next counters: %w", err)
		}
	}
	secrets := make(map[int64][]byte, len(ids))
	for _, id := range ids {
		k, err := t.memberKeyFrom(id, rows[id], true)
		if err != nil {
			return fmt.Errorf("member secret: %w", err)
		}
		secrets[id] = k.secret
	}
	for i := len(rs) - 1; i >= 0; i-- { // a member's last record takes its last counter
		id := rs[i].rec.MemberID
		rs[i].counter = uint64(last[id])
		last[id]--
	}
	for chunk := range slices.Chunk(rs, recordChunk) {
		records := make([]any, 0, 12*len(chunk))
		outbox := make([]any, 0, 2*len(chunk))
		for _, r := range chunk {
			entry, err := r.encode(r.counter, secrets[r.rec.MemberID])
			if err != nil {
				return fmt.Errorf("encode entry: %w", err)
			} else if len(entry) == 0 {
				return errors.New("encode entry: empty entry")
			}
			rec := r.rec
			records = append(records, rec.MemberID, int64(r.counter), rec.EventID[:], rec.PartnerID, rec.ClientID, rec.AgreementVersion,
				rec.Endpoint, strings.Join(rec.Scopes, " "), rec.Granted, rec.Reason, rec.Items, micros(rec.At))
			outbox = append(outbox, rec.EventID[:], entry)
		}
		t.later(&Statement{Query: `INSERT INTO access_records
			(member_id, counter, event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at)
			VALUES ` + valuesList(len(chunk), 12), Args: records})
		t.later(&Statement{Query: `INSERT INTO access_outbox (event_id, entry) VALUES ` + valuesList(len(chunk), 2), Args: outbox})
	}
	return nil
}

// valuesList returns rows parenthesized lists of cols placeholders, comma
// separated: "(?, ?), (?, ?)" for 2 rows of 2.
func valuesList(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
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
