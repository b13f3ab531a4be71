package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

var accessTests = []test{
	{"Record", testRecordAccess},
	{"FailingEncodeWritesNothing", testRecordAccessEncodeFails},
	{"DuplicateEventID", testRecordAccessDuplicate},
	{"CountersPerMember", testAccessCountersPerMember},
	{"ConcurrentCountersGapFree", testAccessCountersConcurrent},
	{"ConcurrentMixedOutcomes", testRecordsConcurrentMixed},
	{"PendingOldestFirst", testPendingOldestFirst},
	{"MarkIntegrated", testMarkIntegrated},
	{"MarkIntegratedIdempotent", testMarkIntegratedIdempotent},
	{"MarkIntegratedRefusesOtherIndex", testMarkIntegratedOtherIndex},
	{"MemberAccessPaging", testMemberAccessPaging},
	{"EventLogIndexNotFound", testEventLogIndexNotFound},
	{"RecordSend", testRecordSend},
	{"RecordSendRefused", testRecordSendRefused},
	{"RecordSendEncodeFails", testRecordSendEncodeFails},
	{"RecordRead", testRecordRead},
	{"LockFeeder", testLockFeeder},
	{"RecordDeletedMember", testRecordDeletedMember},
}

// accessAt is when the suite's accesses happen.
var accessAt = time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)

// newAccess returns a granted access of m by p to GET /me/friends with a
// fresh random event id.
func newAccess(t *testing.T, m *glasshouse.Member, p *glasshouse.Partner) *glasshouse.AccessRecord {
	t.Helper()
	rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: m.ID, AgreementVersion: 1,
		Endpoint: "GET /graph/v1/me/friends", Scopes: []string{glasshouse.ScopeFriends}, Granted: true, Items: 3, At: accessAt}
	if _, err := rand.Read(rec.EventID[:]); err != nil {
		t.Fatal(err)
	}
	return rec
}

// entryFor is the suite's stand-in for a log entry: it names the event and
// the counter, so that the outbox shows which counter encode was given.
func entryFor(rec *glasshouse.AccessRecord, counter uint64) []byte {
	return fmt.Appendf(nil, "entry %x #%d", rec.EventID, counter)
}

// mustRecord records rec and checks that encode was called once, with the
// counter the record got and the member's secret.
func mustRecord(t *testing.T, s glasshouse.Store, rec *glasshouse.AccessRecord) {
	t.Helper()
	var got []uint64
	var secret []byte
	err := s.RecordAccess(t.Context(), rec, func(c uint64, sec []byte) ([]byte, error) {
		got, secret = append(got, c), sec
		return entryFor(rec, c), nil
	})
	if err != nil {
		t.Fatalf("RecordAccess: %v", err)
	}
	if len(got) != 1 || got[0] != rec.Counter {
		t.Fatalf("encode called with %v; the record got counter %d", got, rec.Counter)
	}
	want, err := s.MemberSecret(t.Context(), rec.MemberID)
	if err != nil || !bytes.Equal(secret, want) {
		t.Fatalf("encode got secret %x; the member's is %x (%v)", secret, want, err)
	}
}

func failEncode(uint64, []byte) ([]byte, error) { return nil, errors.New("cannot encode") }

// mustPending returns up to limit outbox rows of access entries: the
// agreement entries that the fixtures' approvals wrote are left out (the
// Agreements tests check those).
func mustPending(t *testing.T, s glasshouse.Store, limit int) []glasshouse.OutboxEntry {
	t.Helper()
	p, err := s.PendingEntries(t.Context(), limit+maxFixtureAgreementEntries)
	must(t, err)
	p = slices.DeleteFunc(p, func(e glasshouse.OutboxEntry) bool { return e.Entry[0] == accesslog.AgreementKind })
	return p[:min(limit, len(p))]
}

// maxFixtureAgreementEntries bounds the agreement entries a test's fixtures
// write before its accesses.
const maxFixtureAgreementEntries = 16

func mustMemberAccess(t *testing.T, s glasshouse.Store, m *glasshouse.Member, after uint64, limit int) []*glasshouse.AccessRecord {
	t.Helper()
	recs, err := s.MemberAccess(t.Context(), m.ID, after, limit)
	must(t, err)
	return recs
}

func wantAccessCount(t *testing.T, s glasshouse.Store, m *glasshouse.Member, want uint64) {
	t.Helper()
	n, err := s.AccessCount(t.Context(), m.ID)
	must(t, err)
	if n != want {
		t.Errorf("AccessCount(%s) = %d, want %d", m.Handle, n, want)
	}
}

func wantLogSize(t *testing.T, s glasshouse.Store, want uint64) {
	t.Helper()
	n, err := s.LogSize(t.Context())
	must(t, err)
	if n != want {
		t.Errorf("LogSize = %d, want %d", n, want)
	}
}

func wantEventIndex(t *testing.T, s glasshouse.Store, rec *glasshouse.AccessRecord, index uint64, integrated bool) {
	t.Helper()
	i, ok, err := s.EventLogIndex(t.Context(), rec.EventID)
	must(t, err)
	if i != index || ok != integrated {
		t.Errorf("EventLogIndex(%x) = %d, %v; want %d, %v", rec.EventID, i, ok, index, integrated)
	}
}

// eventIDs returns the event ids of outbox rows, or of records.
func eventIDs[T glasshouse.OutboxEntry | *glasshouse.AccessRecord](rows []T) [][16]byte {
	ids := make([][16]byte, len(rows))
	for i, r := range rows {
		switch r := any(r).(type) {
		case glasshouse.OutboxEntry:
			ids[i] = r.EventID
		case *glasshouse.AccessRecord:
			ids[i] = r.EventID
		}
	}
	return ids
}

func testRecordAccess(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	granted := newAccess(t, alice, p)
	mustRecord(t, s, granted)
	denied := newAccess(t, alice, p)
	denied.Endpoint, denied.Scopes = "GET /graph/v1/me/conversations/{id}/messages", []string{glasshouse.ScopeMessagesRead}
	denied.Granted, denied.Reason, denied.Items, denied.AgreementVersion = false, "conversation_not_granted", 0, 0
	mustRecord(t, s, denied)
	if granted.Counter != 1 || denied.Counter != 2 {
		t.Errorf("counters %d, %d; want 1, 2", granted.Counter, denied.Counter)
	}
	wantAccessCount(t, s, alice, 2)

	recs := mustMemberAccess(t, s, alice, 0, 0)
	if len(recs) != 2 {
		t.Fatalf("MemberAccess: %d records, want 2", len(recs))
	}
	for i, want := range []*glasshouse.AccessRecord{granted, denied} {
		want.At = accessAt.Truncate(time.Microsecond)
		if got := recs[i]; fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, *got, *want)
		}
	}
	pending := mustPending(t, s, 10)
	if len(pending) != 2 || !bytes.Equal(pending[0].Entry, entryFor(granted, 1)) || !bytes.Equal(pending[1].Entry, entryFor(denied, 2)) {
		t.Errorf("PendingEntries = %q; want the two entries in order", pending)
	}
	wantEventIndex(t, s, granted, 0, false)
	wantLogSize(t, s, 0)
}

func testRecordAccessEncodeFails(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	rec := newAccess(t, alice, p)
	var tried []uint64
	err := s.RecordAccess(t.Context(), rec, func(c uint64, _ []byte) ([]byte, error) {
		tried = append(tried, c)
		return failEncode(c, nil)
	})
	if err == nil {
		t.Fatal("RecordAccess with a failing encode: no error")
	}
	if !slices.Equal(tried, []uint64{1}) || rec.Counter != 0 {
		t.Errorf("encode tried %v, record counter %d; want [1], 0", tried, rec.Counter)
	}
	if n := len(mustMemberAccess(t, s, alice, 0, 0)); n != 0 {
		t.Errorf("%d records after a failed encode", n)
	}
	if n := len(mustPending(t, s, 10)); n != 0 {
		t.Errorf("%d outbox rows after a failed encode", n)
	}
	wantAccessCount(t, s, alice, 0)
	_, _, err = s.EventLogIndex(t.Context(), rec.EventID)
	wantCode(t, err, glasshouse.ENOTFOUND, "EventLogIndex of the failed record")

	// An empty entry is refused like a failing encode.
	err = s.RecordAccess(t.Context(), rec, func(uint64, []byte) ([]byte, error) { return nil, nil })
	if err == nil {
		t.Error("RecordAccess with an empty entry: no error")
	}
	// The counter was not spent: the next record gets 1.
	mustRecord(t, s, rec)
	if rec.Counter != 1 {
		t.Errorf("counter after failed attempts = %d, want 1", rec.Counter)
	}
}

func testRecordAccessDuplicate(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	rec := newAccess(t, alice, p)
	mustRecord(t, s, rec)
	again := *rec
	err := s.RecordAccess(t.Context(), &again, func(c uint64, _ []byte) ([]byte, error) { return entryFor(&again, c), nil })
	wantCode(t, err, glasshouse.ECONFLICT, "RecordAccess with a used event id")
	wantAccessCount(t, s, alice, 1)
	if n := len(mustPending(t, s, 10)); n != 1 {
		t.Errorf("%d outbox rows, want 1", n)
	}
}

func testAccessCountersPerMember(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	p := everyScope(t, s, "streamflix")
	var got [2][]uint64
	for _, who := range []int{0, 1, 0, 0, 1} {
		rec := newAccess(t, ms[who], p)
		mustRecord(t, s, rec)
		got[who] = append(got[who], rec.Counter)
	}
	if !slices.Equal(got[0], []uint64{1, 2, 3}) || !slices.Equal(got[1], []uint64{1, 2}) {
		t.Errorf("counters alice %v, bob %v; want [1 2 3], [1 2]", got[0], got[1])
	}
	wantAccessCount(t, s, ms[0], 3)
	wantAccessCount(t, s, ms[1], 2)
}

// testAccessCountersConcurrent records from many goroutines for a few
// members, with some encodes failing: each member's counters must be
// exactly 1..n, each outbox entry must carry its record's counter.
func testAccessCountersConcurrent(t *testing.T, s glasshouse.Store) {
	const workers, each = 8, 40
	ms := MustMembers(t, s, "alice", "bob", "carol")
	p := everyScope(t, s, "streamflix")
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	var mu sync.Mutex
	recorded := map[[16]byte]*glasshouse.AccessRecord{}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec := newAccess(t, ms[(w+i)%len(ms)], p)
				if i%7 == 3 {
					if err := s.RecordAccess(t.Context(), rec, failEncode); err == nil {
						errs <- errors.New("a failing encode was recorded")
					}
					continue
				}
				if err := s.RecordAccess(t.Context(), rec, func(c uint64, _ []byte) ([]byte, error) { return entryFor(rec, c), nil }); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				recorded[rec.EventID] = rec
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantRecorded(t, s, ms, recorded)
}

// wantRecorded checks that the records stored for ms are exactly those
// acknowledged (recorded, by event id): each member's with counters 1..n
// without gaps, each with the counter its call returned and an outbox row
// holding its entry (entryFor).
func wantRecorded(t *testing.T, s glasshouse.Store, ms []*glasshouse.Member, recorded map[[16]byte]*glasshouse.AccessRecord) {
	t.Helper()
	total := 0
	for _, m := range ms {
		recs := mustMemberAccess(t, s, m, 0, glasshouse.MaxPageSize)
		for i, r := range recs {
			if r.Counter != uint64(i+1) {
				t.Fatalf("%s: record %d has counter %d; want 1..n without gaps", m.Handle, i, r.Counter)
			}
			if mine := recorded[r.EventID]; mine == nil || mine.Counter != r.Counter || mine.MemberID != m.ID {
				t.Fatalf("%s: stored record %x counter %d is not one acknowledged with that counter (%+v)", m.Handle, r.EventID, r.Counter, mine)
			}
		}
		wantAccessCount(t, s, m, uint64(len(recs)))
		total += len(recs)
	}
	if total != len(recorded) {
		t.Errorf("%d records stored, %d acknowledged", total, len(recorded))
	}
	pending := mustPending(t, s, 10*len(recorded)+10)
	if len(pending) != len(recorded) {
		t.Fatalf("%d outbox rows, want %d", len(pending), len(recorded))
	}
	for _, e := range pending {
		rec := recorded[e.EventID]
		if rec == nil || !bytes.Equal(e.Entry, entryFor(rec, rec.Counter)) {
			t.Fatalf("outbox row %q does not match its record", e.Entry)
		}
	}
}

func testRecordsConcurrentMixed(t *testing.T, s glasshouse.Store) {
	const workers, each = 8, 36
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, ms[0], ms[1])
	must(t, s.DeleteMember(t.Context(), ms[3].ID))
	live := ms[:3]
	errRefused := errors.New("refused by the read")
	var mu sync.Mutex
	recorded := map[[16]byte]*glasshouse.AccessRecord{}
	var sent []string // the ClientTxnIDs of the sends that succeeded
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			var mine *glasshouse.AccessRecord // this worker's last recorded access, for a repeat
			for i := range each {
				m := live[(w+i)%len(live)]
				rec := newAccess(t, m, p)
				encode := func(c uint64, _ []byte) ([]byte, error) { return entryFor(rec, c), nil }
				txn := fmt.Sprintf("w%d-%d", w, i)
				var err error
				switch i % 7 {
				case 0: // a plain record
					err = s.RecordAccess(t.Context(), rec, encode)
				case 1: // a read
					err = s.RecordWith(t.Context(), rec, encode, func(ctx context.Context, tx glasshouse.Within) error {
						_, err := tx.MemberByID(ctx, m.ID)
						return err
					})
				case 2: // a read that fails, having written nothing
					err = s.RecordWith(t.Context(), rec, encode, func(context.Context, glasshouse.Within) error { return errRefused })
					if err != errRefused {
						errs <- fmt.Errorf("refused read: %v, want its own error as it is", err)
					}
					continue
				case 3, 4: // a send; 4 fails after it
					rec = sendAccess(t, ms[0], p)
					fail := i%7 == 4
					err = s.RecordWith(t.Context(), rec, encode, func(ctx context.Context, tx glasshouse.Within) error {
						if _, _, err := tx.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: ms[0].ID, Text: txn, ClientTxnID: txn}); err != nil {
							return err
						} else if fail {
							return errRefused
						}
						return nil
					})
					if fail {
						if err != errRefused {
							errs <- fmt.Errorf("send refused after writing: %v, want its own error as it is", err)
						}
						continue
					}
					if err == nil {
						mu.Lock()
						sent = append(sent, txn)
						mu.Unlock()
					}
				case 5: // a deleted member
					rec = newAccess(t, ms[3], p)
					if err := s.RecordAccess(t.Context(), rec, encode); err == nil {
						errs <- errors.New("a deleted member's access was recorded")
					}
					continue
				case 6: // an event id already recorded
					if mine == nil {
						continue
					}
					rec.EventID = mine.EventID
					if err := s.RecordAccess(t.Context(), rec, encode); glasshouse.ErrorCode(err) != glasshouse.ECONFLICT {
						errs <- fmt.Errorf("repeated event id: %v, want conflict", err)
					}
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				mine = rec
				mu.Lock()
				recorded[rec.EventID] = rec
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantRecorded(t, s, ms, recorded)
	page, err := s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: c.ID, MemberID: ms[1].ID, Limit: glasshouse.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, m := range page.Messages {
		stored = append(stored, m.Text)
	}
	slices.Sort(stored)
	slices.Sort(sent)
	if !slices.Equal(stored, sent) {
		t.Errorf("messages stored %q, want exactly the sends that succeeded %q", stored, sent)
	}
}

func testPendingOldestFirst(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	p := everyScope(t, s, "streamflix")
	var want [][16]byte
	for i := range 6 {
		rec := newAccess(t, ms[i%2], p)
		mustRecord(t, s, rec)
		want = append(want, rec.EventID)
	}
	if got := eventIDs(mustPending(t, s, 4)); !slices.Equal(got, want[:4]) {
		t.Errorf("PendingEntries(4) = %x\nwant %x", got, want[:4])
	}
	must(t, s.MarkIntegrated(t.Context(), []glasshouse.LogPosition{{EventID: want[0], Index: 0}, {EventID: want[1], Index: 1}}))
	if got := eventIDs(mustPending(t, s, 100)); !slices.Equal(got, want[2:]) {
		t.Errorf("PendingEntries after two integrated = %x\nwant %x", got, want[2:])
	}
}

// mustRecords records n accesses of m and returns them.
func mustRecords(t *testing.T, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner, n int) []*glasshouse.AccessRecord {
	t.Helper()
	recs := make([]*glasshouse.AccessRecord, n)
	for i := range recs {
		recs[i] = newAccess(t, m, p)
		mustRecord(t, s, recs[i])
	}
	return recs
}

func positions(recs []*glasshouse.AccessRecord, first uint64) []glasshouse.LogPosition {
	ps := make([]glasshouse.LogPosition, len(recs))
	for i, r := range recs {
		ps[i] = glasshouse.LogPosition{EventID: r.EventID, Index: first + uint64(i)}
	}
	return ps
}

func testMarkIntegrated(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	recs := mustRecords(t, s, alice, p, 3)
	must(t, s.MarkIntegrated(t.Context(), positions(recs[:2], 0)))
	wantEventIndex(t, s, recs[0], 0, true)
	wantEventIndex(t, s, recs[1], 1, true)
	wantEventIndex(t, s, recs[2], 0, false)
	wantLogSize(t, s, 2)
	if got := eventIDs(mustPending(t, s, 10)); !slices.Equal(got, eventIDs(recs[2:])) {
		t.Errorf("pending %x, want only the third", got)
	}
	listed := mustMemberAccess(t, s, alice, 0, 0)
	if !listed[1].Integrated || listed[1].LogIndex != 1 || listed[2].Integrated {
		t.Errorf("MemberAccess log indexes: %+v", listed)
	}
	must(t, s.MarkIntegrated(t.Context(), nil))
	wantLogSize(t, s, 2)
}

func testMarkIntegratedIdempotent(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	recs := mustRecords(t, s, alice, p, 3)
	must(t, s.MarkIntegrated(t.Context(), positions(recs[:2], 10)))
	// A feeder recovering after a crash passes them again, with the next.
	must(t, s.MarkIntegrated(t.Context(), positions(recs, 10)))
	for i, r := range recs {
		wantEventIndex(t, s, r, 10+uint64(i), true)
	}
	wantLogSize(t, s, 13)
	if n := len(mustPending(t, s, 10)); n != 0 {
		t.Errorf("%d outbox rows left", n)
	}
	// An event the store never had (or whose member was deleted) is skipped.
	must(t, s.MarkIntegrated(t.Context(), []glasshouse.LogPosition{{EventID: [16]byte{1}, Index: 13}}))
	wantLogSize(t, s, 14)
}

func testMarkIntegratedOtherIndex(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	recs := mustRecords(t, s, alice, p, 3)
	must(t, s.MarkIntegrated(t.Context(), positions(recs[:1], 0)))
	cases := []struct {
		name string
		ps   []glasshouse.LogPosition
	}{
		{"SameEventOtherIndex", []glasshouse.LogPosition{{EventID: recs[1].EventID, Index: 1}, {EventID: recs[0].EventID, Index: 5}}},
		{"OtherEventSameIndex", []glasshouse.LogPosition{{EventID: recs[1].EventID, Index: 1}, {EventID: recs[2].EventID, Index: 0}}},
	}
	for _, tc := range cases {
		if err := s.MarkIntegrated(t.Context(), tc.ps); err == nil {
			t.Errorf("%s: MarkIntegrated accepted it", tc.name)
		}
		// Nothing of the refused batch was written, its first event included.
		wantEventIndex(t, s, recs[0], 0, true)
		wantEventIndex(t, s, recs[1], 0, false)
		wantLogSize(t, s, 1)
		if got := eventIDs(mustPending(t, s, 10)); !slices.Equal(got, eventIDs(recs[1:])) {
			t.Errorf("%s: pending %x, want the last two", tc.name, got)
		}
	}
}

func testMemberAccessPaging(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	p := everyScope(t, s, "streamflix")
	recs := mustRecords(t, s, ms[0], p, 5)
	mustRecords(t, s, ms[1], p, 2)
	if got := eventIDs(mustMemberAccess(t, s, ms[0], 2, 2)); !slices.Equal(got, eventIDs(recs[2:4])) {
		t.Errorf("MemberAccess(after 2, limit 2) = %x, want records 3 and 4", got)
	}
	if got := mustMemberAccess(t, s, ms[0], 5, 0); len(got) != 0 {
		t.Errorf("MemberAccess past the end = %d records", len(got))
	}
	for _, limit := range []int{-1, glasshouse.MaxPageSize + 1} {
		_, err := s.MemberAccess(t.Context(), ms[0].ID, 0, limit)
		wantCode(t, err, glasshouse.EINVALID, fmt.Sprintf("MemberAccess(limit %d)", limit))
	}
	if got := mustMemberAccess(t, s, MustMember(t, s, "carol"), 0, 0); len(got) != 0 {
		t.Errorf("a member without accesses has %d records", len(got))
	}
}

func testEventLogIndexNotFound(t *testing.T, s glasshouse.Store) {
	_, _, err := s.EventLogIndex(t.Context(), [16]byte{9})
	wantCode(t, err, glasshouse.ENOTFOUND, "EventLogIndex(unknown)")
}

// sendAccess is the access record of a partner's send for m.
func sendAccess(t *testing.T, m *glasshouse.Member, p *glasshouse.Partner) *glasshouse.AccessRecord {
	t.Helper()
	rec := newAccess(t, m, p)
	rec.Endpoint, rec.Scopes, rec.Items = "POST /graph/v1/me/messages", []string{glasshouse.ScopeMessagesSend}, 1
	return rec
}

// recordSend sends nm and records rec in one RecordWith, as the Graph API
// does for POST /me/messages.
func recordSend(t *testing.T, s glasshouse.Store, nm glasshouse.NewMessage, rec *glasshouse.AccessRecord, encode func(uint64, []byte) ([]byte, error)) (msg *glasshouse.Message, created bool, err error) {
	t.Helper()
	err = s.RecordWith(t.Context(), rec, encode, func(ctx context.Context, tx glasshouse.Within) (err error) {
		msg, created, err = tx.SendMessage(ctx, nm)
		return err
	})
	return msg, created, err
}

func testRecordSend(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, ms[0], ms[1])
	nm := glasshouse.NewMessage{ConversationID: c.ID, SenderID: ms[0].ID, Text: "watching this", ClientTxnID: "t1", ViaPartner: p.Name}
	rec := sendAccess(t, ms[0], p)
	msg, created, err := recordSend(t, s, nm, rec, func(n uint64, _ []byte) ([]byte, error) { return entryFor(rec, n), nil })
	if err != nil || !created || msg.Text != nm.Text || msg.ViaPartner != p.Name {
		t.Fatalf("RecordSend = %+v, %v, %v", msg, created, err)
	}
	// A retry is its own access, recorded with the stored message.
	retry := sendAccess(t, ms[0], p)
	again, created, err := recordSend(t, s, nm, retry, func(n uint64, _ []byte) ([]byte, error) { return entryFor(retry, n), nil })
	if err != nil || created || again.ID != msg.ID {
		t.Fatalf("RecordSend retry = %+v, %v, %v; want the stored message", again, created, err)
	}
	if rec.Counter != 1 || retry.Counter != 2 {
		t.Errorf("counters %d, %d; want 1, 2", rec.Counter, retry.Counter)
	}
	if got := eventIDs(mustPending(t, s, 10)); !slices.Equal(got, [][16]byte{rec.EventID, retry.EventID}) {
		t.Errorf("pending %x", got)
	}
	if n := len(history(t, s, ms[1], c.ID)); n != 1 {
		t.Errorf("bob sees %d messages, want 1", n)
	}
}

func testRecordSendRefused(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob", "carol")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, ms[1], ms[2]) // alice is not in it
	rec := sendAccess(t, ms[0], p)
	_, _, err := recordSend(t, s, glasshouse.NewMessage{ConversationID: c.ID, SenderID: ms[0].ID, Text: "hi"}, rec,
		func(n uint64, _ []byte) ([]byte, error) { return entryFor(rec, n), nil })
	wantCode(t, err, glasshouse.ENOTFOUND, "RecordSend to a conversation alice is not in")
	wantAccessCount(t, s, ms[0], 0)
	if n := len(mustPending(t, s, 10)); n != 0 {
		t.Errorf("%d outbox rows after a refused send", n)
	}
	_, _, err = recordSend(t, s, glasshouse.NewMessage{ConversationID: c.ID, SenderID: ms[1].ID}, rec,
		func(n uint64, _ []byte) ([]byte, error) { return entryFor(rec, n), nil })
	wantCode(t, err, glasshouse.EINVALID, "RecordSend of an empty message")
}

func testRecordSendEncodeFails(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, ms[0], ms[1])
	rec := sendAccess(t, ms[0], p)
	_, _, err := recordSend(t, s, glasshouse.NewMessage{ConversationID: c.ID, SenderID: ms[0].ID, Text: "lost"}, rec, failEncode)
	if err == nil {
		t.Fatal("RecordSend with a failing encode: no error")
	}
	if code := glasshouse.ErrorCode(err); code != glasshouse.EINTERNAL {
		t.Errorf("error code %q, want internal (not a refusal of the send)", code)
	}
	if n := len(history(t, s, ms[1], c.ID)); n != 0 {
		t.Errorf("the message was stored without its access record (%d messages)", n)
	}
	wantAccessCount(t, s, ms[0], 0)
	if n := len(mustPending(t, s, 10)); n != 0 {
		t.Errorf("%d outbox rows", n)
	}
}

func testRecordRead(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob", "carol")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, ms[0], ms[1])
	MustSend(t, s, c, ms[1], "hello alice")
	encode := func(rec *glasshouse.AccessRecord) func(uint64, []byte) ([]byte, error) {
		return func(n uint64, _ []byte) ([]byte, error) { return entryFor(rec, n), nil }
	}

	// A read sees the data and its record commits with it.
	rec := newAccess(t, ms[0], p)
	err := s.RecordWith(t.Context(), rec, encode(rec), func(ctx context.Context, tx glasshouse.Within) error {
		m, err := tx.MemberByID(ctx, ms[0].ID)
		if err != nil || m.Handle != "alice" {
			return fmt.Errorf("MemberByID = %+v, %v", m, err)
		}
		page, err := tx.Messages(ctx, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: ms[0].ID})
		if err != nil || len(page.Messages) != 1 || page.Messages[0].Text != "hello alice" {
			return fmt.Errorf("Messages = %+v, %v", page, err)
		}
		if _, err := tx.FriendsWithGrants(ctx, ms[0].ID, p.ID, glasshouse.ScopeFriends, time.Now(), 0, 10); err != nil {
			return err
		}
		rec.Items = len(page.Messages)
		return nil
	})
	if err != nil || rec.Counter != 1 {
		t.Fatalf("RecordWith = %v, counter %d", err, rec.Counter)
	}
	recs, err := s.MemberAccess(t.Context(), ms[0].ID, 0, 0)
	if err != nil || len(recs) != 1 || recs[0].Items != 1 {
		t.Fatalf("MemberAccess = %+v, %v; want the one record with 1 item", recs, err)
	}

	// A read refused by the store writes nothing and returns its error as
	// it is.
	refused := newAccess(t, ms[2], p)
	err = s.RecordWith(t.Context(), refused, encode(refused), func(ctx context.Context, tx glasshouse.Within) error {
		_, err := tx.Messages(ctx, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: ms[2].ID})
		return err
	})
	wantCode(t, err, glasshouse.ENOTFOUND, "RecordWith reading a conversation carol is not in")
	wantAccessCount(t, s, ms[2], 0)
	if n := len(mustPending(t, s, 10)); n != 1 {
		t.Errorf("%d outbox rows, want only the first read's", n)
	}
}

func testLockFeeder(t *testing.T, s glasshouse.Store) {
	lock, ok, err := s.LockFeeder(t.Context())
	if err != nil || !ok {
		t.Fatalf("first LockFeeder = %v, %v; want the lock", ok, err)
	}
	if err := lock.Check(t.Context()); err != nil {
		t.Fatalf("a lock just taken is not held: %v", err)
	}
	if _, ok, err := s.LockFeeder(t.Context()); err != nil || ok {
		t.Fatalf("LockFeeder while held = %v, %v; want refused", ok, err)
	}
	lock.Release()
	lock.Release() // harmless
	again, ok, err := s.LockFeeder(t.Context())
	if err != nil || !ok {
		t.Fatalf("LockFeeder after release = %v, %v; want the lock", ok, err)
	}
	again.Release()
}

// A request that raced the deletion of its member's account gets no
// record: the member's secret is read in the record's own transaction.
func testRecordDeletedMember(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	must(t, s.DeleteMember(t.Context(), ms[0].ID))
	rec := newAccess(t, ms[0], p)
	called := false
	err := s.RecordAccess(t.Context(), rec, func(c uint64, _ []byte) ([]byte, error) {
		called = true
		return entryFor(rec, c), nil
	})
	if err == nil || called {
		t.Fatalf("RecordAccess for a deleted member = %v (encode called: %v); want an error and no call", err, called)
	}
	if n := len(mustPending(t, s, 10)); n != 0 {
		t.Errorf("%d outbox rows", n)
	}
}

// history returns m's view of a conversation's newest messages.
func history(t *testing.T, s glasshouse.Store, m *glasshouse.Member, conversationID int64) []*glasshouse.Message {
	t.Helper()
	page, err := s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: conversationID, MemberID: m.ID})
	must(t, err)
	return page.Messages
}
