package storetest

import (
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var partnerStatsTests = []test{
	{"Usage", testPartnerUsage},
	{"ReceiptsLimit", testPartnerUsageReceiptsLimit},
	{"UsageInvalid", testPartnerUsageInvalid},
	{"UsageAfterDeletion", testPartnerUsageAfterDeletion},
	{"UnknownPartner", testPartnerUsageUnknown},
	{"Agreements", testAgreements},
}

// day is midnight UTC of the suite's access day plus n days.
func day(n int) time.Time {
	return time.Date(accessAt.Year(), accessAt.Month(), accessAt.Day()+n, 0, 0, 0, 0, time.UTC)
}

// mustAccessAt records an access of m by p at the given time, used scopes
// and decision ("" reason means granted).
func mustAccessAt(t *testing.T, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner, at time.Time, reason string, scopes ...string) *glasshouse.AccessRecord {
	t.Helper()
	rec := newAccess(t, m, p)
	rec.At, rec.Scopes, rec.Granted, rec.Reason = at, scopes, reason == "", reason
	if reason != "" {
		rec.Items = 0
	}
	mustRecord(t, s, rec)
	return rec
}

func testPartnerUsage(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	alice, bob := ms[0], ms[1]
	sf, other := everyScope(t, s, "streamflix"), everyScope(t, s, "shopzon")
	const notGranted = "scope_not_granted"
	before := mustAccessAt(t, s, alice, sf, day(-1).Add(23*time.Hour), "", glasshouse.ScopeFriends) // before the window
	first := mustAccessAt(t, s, alice, sf, day(0).Add(10*time.Hour), "", glasshouse.ScopeFriends)
	denied := mustAccessAt(t, s, bob, sf, day(0).Add(11*time.Hour), notGranted, glasshouse.ScopeMessagesRead)
	both := mustAccessAt(t, s, bob, sf, day(2).Add(time.Hour), "", glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	last := mustAccessAt(t, s, alice, sf, day(2).Add(2*time.Hour), notGranted, glasshouse.ScopeMessagesRead)
	mustAccessAt(t, s, alice, sf, day(3), "", glasshouse.ScopeFriends)    // the window's end is exclusive
	mustAccessAt(t, s, alice, other, day(1), "", glasshouse.ScopeProfile) // another partner
	must(t, s.MarkIntegrated(t.Context(), positions([]*glasshouse.AccessRecord{before, first, denied}, 0)))

	u, err := s.PartnerUsage(t.Context(), sf.ID, day(0), day(3), 0)
	must(t, err)
	if !u.Since.Equal(day(0)) || !u.Until.Equal(day(3)) {
		t.Errorf("window %v to %v, want %v to %v", u.Since, u.Until, day(0), day(3))
	}
	if want := (glasshouse.AccessTotals{Granted: 2, Denied: 2}); u.Window != want {
		t.Errorf("Window = %+v, want %+v", u.Window, want)
	}
	if want := (glasshouse.AccessTotals{Granted: 4, Denied: 2}); u.Total != want {
		t.Errorf("Total = %+v, want %+v", u.Total, want)
	}
	wantScopes := []glasshouse.ScopeUsage{
		{Scope: glasshouse.ScopeProfile, Granted: true, Count: 1},
		{Scope: glasshouse.ScopeEmail, Granted: true, Count: 1},
		{Scope: glasshouse.ScopeFriends, Granted: true, Count: 1},
		{Scope: glasshouse.ScopeMessagesRead, Reason: notGranted, Count: 2},
	}
	if d := diff(u.ByScope, wantScopes); d != "" {
		t.Errorf("ByScope: %s", d)
	}
	wantDays := []glasshouse.DayUsage{{Day: day(0), Granted: 1, Denied: 1}, {Day: day(2), Granted: 1, Denied: 1}}
	if d := diff(u.ByDay, wantDays); d != "" {
		t.Errorf("ByDay: %s", d)
	}
	wantReceipts := []*glasshouse.AccessRecord{last, both, denied, first}
	if len(u.Receipts) != len(wantReceipts) {
		t.Fatalf("Receipts: %d, want %d", len(u.Receipts), len(wantReceipts))
	}
	for i, want := range wantReceipts {
		w := *want
		w.MemberID, w.Counter = 0, 0 // a partner never learns whom a record is about
		w.LogIndex, w.Integrated = map[*glasshouse.AccessRecord]uint64{first: 1, denied: 2}[want], want == first || want == denied
		if d := diff(u.Receipts[i], &w); d != "" {
			t.Errorf("Receipts[%d]: %s", i, d)
		}
	}

	totals, err := s.PartnerAccessTotals(t.Context(), sf.ID)
	must(t, err)
	if totals != u.Total || totals.All() != 6 {
		t.Errorf("PartnerAccessTotals = %+v, want %+v (6 in all)", totals, u.Total)
	}
}

// testPartnerUsageAfterDeletion deletes a member: the log keeps their
// entries, so the partner's usage keeps counting them (the totals, the
// window, the receipts), and an entry integrated after the deletion gets
// its place in the log on its receipt.
func testPartnerUsageAfterDeletion(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob")
	alice, bob := ms[0], ms[1]
	sf := everyScope(t, s, "streamflix")
	mine := mustAccessAt(t, s, alice, sf, day(0).Add(time.Hour), "", glasshouse.ScopeFriends)
	integrated := mustAccessAt(t, s, bob, sf, day(0).Add(2*time.Hour), "", glasshouse.ScopeProfile)
	pending := mustAccessAt(t, s, bob, sf, day(1), "scope_not_granted", glasshouse.ScopeMessagesRead)
	must(t, s.MarkIntegrated(t.Context(), positions([]*glasshouse.AccessRecord{mine, integrated}, 0)))
	before, err := s.PartnerUsage(t.Context(), sf.ID, day(0), day(3), 0)
	must(t, err)

	must(t, s.DeleteMember(t.Context(), bob.ID))
	after, err := s.PartnerUsage(t.Context(), sf.ID, day(0), day(3), 0)
	must(t, err)
	if d := diff(after, before); d != "" {
		t.Errorf("PartnerUsage after bob's deletion: %s", d)
	}
	if totals, err := s.PartnerAccessTotals(t.Context(), sf.ID); err != nil || totals.All() != 3 {
		t.Errorf("PartnerAccessTotals after the deletion = %+v, %v; want 3 in all", totals, err)
	}
	if recs, err := s.MemberAccess(t.Context(), bob.ID, 0, 10); err != nil || len(recs) != 0 {
		t.Errorf("MemberAccess of the deleted bob = %d records, %v; want none", len(recs), err)
	}

	must(t, s.MarkIntegrated(t.Context(), positions([]*glasshouse.AccessRecord{pending}, 2)))
	after, err = s.PartnerUsage(t.Context(), sf.ID, day(0), day(3), 0)
	must(t, err)
	if r := after.Receipts[0]; r.EventID != pending.EventID || !r.Integrated || r.LogIndex != 2 {
		t.Errorf("receipt of the entry integrated after its member's deletion: %+v, want log index 2", r)
	}
}

func testPartnerUsageReceiptsLimit(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	sf := everyScope(t, s, "streamflix")
	var recs []*glasshouse.AccessRecord
	for i := range 5 {
		recs = append(recs, mustAccessAt(t, s, alice, sf, day(0).Add(time.Duration(i)*time.Minute), "", glasshouse.ScopeFriends))
	}
	u, err := s.PartnerUsage(t.Context(), sf.ID, day(0), day(1), 2)
	must(t, err)
	if len(u.Receipts) != 2 || u.Receipts[0].EventID != recs[4].EventID || u.Receipts[1].EventID != recs[3].EventID {
		t.Errorf("Receipts = %+v, want the last two, newest first", u.Receipts)
	}
	if u.Window.Granted != 5 || len(u.ByDay) != 1 || u.ByDay[0].Granted != 5 {
		t.Errorf("Window %+v, ByDay %+v: the receipts limit must not cut the counts", u.Window, u.ByDay)
	}
}

func testPartnerUsageInvalid(t *testing.T, s glasshouse.Store) {
	sf := everyScope(t, s, "streamflix")
	for _, tt := range []struct {
		name         string
		since, until time.Time
		receipts     int
	}{
		{"EmptyWindow", day(0), day(0), 0},
		{"BackwardWindow", day(1), day(0), 0},
		{"WindowTooLong", day(0), day(0).Add(glasshouse.MaxUsageWindow + time.Microsecond), 0},
		{"NegativeReceipts", day(0), day(1), -1},
		{"TooManyReceipts", day(0), day(1), glasshouse.MaxPageSize + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PartnerUsage(t.Context(), sf.ID, tt.since, tt.until, tt.receipts)
			wantCode(t, err, glasshouse.EINVALID, "PartnerUsage")
		})
	}
}

func testPartnerUsageUnknown(t *testing.T, s glasshouse.Store) {
	u, err := s.PartnerUsage(t.Context(), 12345, day(0), day(1), 0)
	must(t, err)
	if u.Total.All() != 0 || u.Window.All() != 0 || len(u.ByScope) != 0 || len(u.ByDay) != 0 || len(u.Receipts) != 0 {
		t.Errorf("PartnerUsage(unknown) = %+v, want nothing", u)
	}
	totals, err := s.PartnerAccessTotals(t.Context(), 12345)
	if err != nil || totals.All() != 0 {
		t.Errorf("PartnerAccessTotals(unknown) = %+v, %v; want 0, nil", totals, err)
	}
}

func testAgreements(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("streamflix", glasshouse.ScopeProfile))
	v1, err := s.CurrentAgreement(t.Context(), p.ID)
	must(t, err)
	next := *v1
	next.Scopes = []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends}
	v2, err := s.ProposeAgreement(t.Context(), p.ID, next)
	must(t, err)
	got, err := s.Agreements(t.Context(), p.ID)
	must(t, err)
	if d := diff(got, []*glasshouse.Agreement{v2, v1}); d != "" {
		t.Errorf("Agreements: %s", d)
	}
	_, err = s.Agreements(t.Context(), p.ID+100)
	wantCode(t, err, glasshouse.ENOTFOUND, "Agreements(unknown partner)")
}
