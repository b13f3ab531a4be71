package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

var agreementLogTests = []test{
	{"ApprovalLogged", testApprovalLogged},
	{"RefusedApprovalLogsNothing", testRefusedApprovalLogsNothing},
	{"StatusLogged", testStatusLogged},
	{"ChangesSwept", testAgreementChangesSwept},
	{"EventLogIndex", testAgreementEventLogIndex},
}

// agreementEntries returns the outbox's agreement entries, decoded, oldest
// first.
func agreementEntries(t *testing.T, s glasshouse.Store) []*accesslog.AgreementEntry {
	t.Helper()
	p, err := s.PendingEntries(t.Context(), 1000)
	must(t, err)
	var out []*accesslog.AgreementEntry
	for _, e := range p {
		d, err := accesslog.DecodeAny(e.Entry)
		if err != nil {
			t.Fatalf("outbox row %x: %v", e.EventID, err)
		}
		if d.Agreement != nil {
			if d.Agreement.EventID != e.EventID {
				t.Errorf("outbox row %x holds the entry of event %x", e.EventID, d.Agreement.EventID)
			}
			out = append(out, d.Agreement)
		}
	}
	return out
}

// wantActions checks the partner's logged changes, in the store and in the
// outbox, as (action, version) pairs.
func wantActions(t *testing.T, s glasshouse.Store, p *glasshouse.Partner, want ...string) {
	t.Helper()
	evs, err := s.AgreementEvents(t.Context(), p.ID)
	must(t, err)
	var got, logged []string
	for _, e := range evs {
		got = append(got, e.Action)
	}
	for _, e := range agreementEntries(t, s) {
		if e.PartnerID == p.ClientID {
			logged = append(logged, e.Action.String())
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(logged, want) {
		t.Errorf("%s: AgreementEvents %v, outbox entries %v; want %v", p.ClientID, got, logged, want)
	}
}

func testApprovalLogged(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("LoggedApp", glasshouse.ScopeProfile, glasshouse.ScopeFriends))
	entries := agreementEntries(t, s)
	if len(entries) != 1 {
		t.Fatalf("%d agreement entries after one approval, want 1", len(entries))
	}
	a, err := s.CurrentAgreement(t.Context(), p.ID)
	must(t, err)
	want := accesslog.AgreementEntryOf(entries[0].EventID, p.ClientID, a, accesslog.Approved, approvedAt)
	wantBytes, err := want.MarshalBinary()
	must(t, err)
	gotBytes, err := entries[0].MarshalBinary()
	must(t, err)
	if !slices.Equal(gotBytes, wantBytes) {
		t.Errorf("approval entry %+v\nwant %+v", entries[0], want)
	}
	evs, err := s.AgreementEvents(t.Context(), p.ID)
	must(t, err)
	if len(evs) != 1 || evs[0].Version != 1 || evs[0].Action != glasshouse.AgreementApproved || !evs[0].EffectiveAt.Equal(approvedAt) || evs[0].Integrated {
		t.Errorf("AgreementEvents = %+v; want version 1 approved at %v, pending", evs, approvedAt)
	}
	// A new version is logged with its own scopes and terms.
	_, err = s.ProposeAgreement(t.Context(), p.ID, glasshouse.Agreement{Scopes: []string{glasshouse.ScopeProfile},
		Purpose: "Show your name in the app, nothing else.", RetentionDays: 7, ExpiresAt: agreementEnd})
	must(t, err)
	_, err = s.ApproveAgreement(t.Context(), p.ClientID, approvedAt.Add(time.Hour))
	must(t, err)
	entries = agreementEntries(t, s)
	if len(entries) != 2 || entries[1].Version != 2 || !slices.Equal(entries[1].Scopes, []string{glasshouse.ScopeProfile}) ||
		entries[1].TermsHash == entries[0].TermsHash {
		t.Errorf("after approving version 2: %+v; want a second entry, version 2, profile only, other terms", entries)
	}
}

func testRefusedApprovalLogsNothing(t *testing.T, s glasshouse.Store) {
	np := newPartner("UnassessedApp", glasshouse.ScopeMessagesRead)
	np.SecurityAssessedAt = time.Time{}
	p := mustCreatePartner(t, s, np)
	_, err := s.ApproveAgreement(t.Context(), p.ClientID, approvedAt)
	wantCode(t, err, glasshouse.EFORBIDDEN, "ApproveAgreement without an assessment")
	wantActions(t, s, p)
	// Suspending a partner that never had an approved agreement changes
	// nothing the log speaks of.
	_, err = s.SetPartnerStatus(t.Context(), p.ClientID, glasshouse.PartnerSuspended)
	must(t, err)
	wantActions(t, s, p)
}

func testStatusLogged(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("StatusApp", glasshouse.ScopeProfile))
	for _, status := range []string{glasshouse.PartnerSuspended, glasshouse.PartnerSuspended, glasshouse.PartnerApproved, glasshouse.PartnerApproved} {
		_, err := s.SetPartnerStatus(t.Context(), p.ClientID, status)
		must(t, err)
	}
	// Setting the status it already has logs nothing.
	wantActions(t, s, p, glasshouse.AgreementApproved, glasshouse.AgreementSuspended, glasshouse.AgreementResumed)

	// Suspended before its first approval: nothing to log then; the
	// approval comes with the suspension it stays under.
	early := mustCreatePartner(t, s, newPartner("EarlyApp", glasshouse.ScopeProfile))
	_, err := s.SetPartnerStatus(t.Context(), early.ClientID, glasshouse.PartnerSuspended)
	must(t, err)
	wantActions(t, s, early)
	_, err = s.ApproveAgreement(t.Context(), early.ClientID, approvedAt)
	must(t, err)
	wantActions(t, s, early, glasshouse.AgreementApproved, glasshouse.AgreementSuspended)
}

func testAgreementChangesSwept(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("ExpiringApp", glasshouse.ScopeProfile))
	n, err := s.LogAgreementChanges(t.Context(), approvedAt.Add(time.Hour))
	must(t, err)
	if n != 0 {
		t.Errorf("LogAgreementChanges with nothing missing wrote %d entries", n)
	}
	after := agreementEnd.Add(time.Hour)
	if n, err = s.LogAgreementChanges(t.Context(), after); err != nil || n != 1 {
		t.Errorf("LogAgreementChanges after the expiry = %d, %v; want 1 entry", n, err)
	}
	if n, err = s.LogAgreementChanges(t.Context(), after); err != nil || n != 0 {
		t.Errorf("LogAgreementChanges again = %d, %v; want none", n, err)
	}
	wantActions(t, s, p, glasshouse.AgreementApproved, glasshouse.AgreementExpired)
	entries := agreementEntries(t, s)
	if last := entries[len(entries)-1]; !last.Time.Equal(agreementEnd) || !last.Expires.Equal(agreementEnd) {
		t.Errorf("expiry entry at %v (expires %v), want both %v", last.Time, last.Expires, agreementEnd)
	}
}

func testAgreementEventLogIndex(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("IndexedApp", glasshouse.ScopeProfile))
	entries := agreementEntries(t, s)
	id := entries[0].EventID
	if _, integrated, err := s.EventLogIndex(t.Context(), id); err != nil || integrated {
		t.Fatalf("EventLogIndex before the feeder = %v, %v; want pending", integrated, err)
	}
	must(t, s.MarkIntegrated(t.Context(), []glasshouse.LogPosition{{EventID: id, Index: 0}}))
	if index, integrated, err := s.EventLogIndex(t.Context(), id); err != nil || !integrated || index != 0 {
		t.Errorf("EventLogIndex = %d, %v, %v; want 0, integrated", index, integrated, err)
	}
	evs, err := s.AgreementEvents(t.Context(), p.ID)
	must(t, err)
	if len(evs) != 1 || !evs[0].Integrated || evs[0].LogIndex != 0 {
		t.Errorf("AgreementEvents = %+v; want its log index 0", evs[0])
	}
	if n := len(agreementEntries(t, s)); n != 0 {
		t.Errorf("%d agreement entries left in the outbox", n)
	}
}
