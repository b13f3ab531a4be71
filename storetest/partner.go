package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var partnerTests = []test{
	{"Create", testCreatePartner},
	{"CreateInvalid", testCreatePartnerInvalid},
	{"ClientIDTaken", testClientIDTaken},
	{"NotFound", testPartnerNotFound},
	{"ListOldestFirst", testPartnersOldestFirst},
	{"Versioning", testAgreementVersioning},
	{"ProposeInvalid", testProposeAgreementInvalid},
	{"Approve", testApproveAgreement},
	{"PortalEpoch", testPortalEpoch},
	{"ApproveTwice", testApproveTwice},
	{"ApproveAssessment", testApproveAssessment},
	{"SuspendResume", testSuspendResume},
	{"ResumeNeedsApprovedAgreement", testResumeNeedsApprovedAgreement},
	{"UnknownStatus", testUnknownPartnerStatus},
}

// Times of the partner tests. Registration is validated against the store's
// clock, so agreements end far in the future and assessments lie in the
// past; approval takes its time as a parameter.
var (
	agreementEnd = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	assessedAt   = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	approvedAt   = assessedAt.Add(30 * 24 * time.Hour)
)

// newPartner returns a valid registration named name with the given scopes.
func newPartner(name string, scopes ...string) glasshouse.NewPartner {
	return glasshouse.NewPartner{
		Name:          name,
		RedirectURIs:  []string{"https://" + name + ".example/callback", "http://127.0.0.1:8080/" + name + "/callback"},
		Scopes:        scopes,
		Purpose:       "Lets " + name + " do what its users ask of it.",
		RetentionDays: 30,
		ExpiresAt:     agreementEnd,
	}
}

// clientID and secretHash are what the suite registers each partner with.
func clientID(name string) string   { return "client-" + name }
func secretHash(name string) []byte { return tokenHash("secret-" + name) }
func assessed(np glasshouse.NewPartner) glasshouse.NewPartner {
	np.SecurityAssessedAt = assessedAt
	return np
}

// mustCreatePartner registers np, pending.
func mustCreatePartner(t *testing.T, s glasshouse.Store, np glasshouse.NewPartner) *glasshouse.Partner {
	t.Helper()
	p, err := s.CreatePartner(t.Context(), np, clientID(np.Name), secretHash(np.Name))
	if err != nil {
		t.Fatalf("CreatePartner(%s): %v", np.Name, err)
	}
	return p
}

// mustPartner registers np and approves its agreement at approvedAt.
func mustPartner(t *testing.T, s glasshouse.Store, np glasshouse.NewPartner) *glasshouse.Partner {
	t.Helper()
	p := mustCreatePartner(t, s, np)
	if _, err := s.ApproveAgreement(t.Context(), p.ClientID, approvedAt); err != nil {
		t.Fatalf("ApproveAgreement(%s): %v", p.ClientID, err)
	}
	p.Status = glasshouse.PartnerApproved
	return p
}

// wantStatus checks a partner's stored status.
func wantStatus(t *testing.T, s glasshouse.Store, clientID, want string) {
	t.Helper()
	p, err := s.PartnerByClientID(t.Context(), clientID)
	must(t, err)
	if p.Status != want {
		t.Errorf("PartnerByClientID(%s).Status = %q, want %q", clientID, p.Status, want)
	}
}

// diff describes how got differs from want, or returns "". Times must be
// UTC and whole microseconds, as stores return them.
func diff[T any](got, want T) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("\n got %+v,\nwant %+v", got, want)
}

func testCreatePartner(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	np := assessed(newPartner("streamflix", glasshouse.ScopeMessagesSend, glasshouse.ScopeProfile, glasshouse.ScopeFriends))
	p, err := s.CreatePartner(ctx, np, "client-sf", tokenHash("secret"))
	must(t, err)
	if p.ID == 0 || p.CreatedAt.IsZero() {
		t.Fatalf("CreatePartner = %+v, want an ID and a creation time", p)
	}
	want := &glasshouse.Partner{ID: p.ID, ClientID: "client-sf", Name: "streamflix", RedirectURIs: np.RedirectURIs,
		Status: glasshouse.PartnerPending, CreatedAt: p.CreatedAt}
	if d := diff(p, want); d != "" {
		t.Errorf("CreatePartner: %s", d)
	}
	got, err := s.PartnerByClientID(ctx, "client-sf")
	must(t, err)
	if d := diff(got, want); d != "" {
		t.Errorf("PartnerByClientID: %s", d)
	}
	hash, err := s.PartnerSecretHash(ctx, "client-sf")
	must(t, err)
	if string(hash) != string(tokenHash("secret")) {
		t.Errorf("PartnerSecretHash = %x, want %x", hash, tokenHash("secret"))
	}

	a, err := s.LatestAgreement(ctx, p.ID)
	must(t, err)
	wantA := &glasshouse.Agreement{PartnerID: p.ID, Version: 1,
		Scopes:  []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend},
		Purpose: np.Purpose, RetentionDays: 30, ExpiresAt: agreementEnd, SecurityAssessedAt: assessedAt, CreatedAt: a.CreatedAt}
	if d := diff(a, wantA); d != "" {
		t.Errorf("LatestAgreement (scopes in glasshouse.DataScopes order): %s", d)
	}
	_, err = s.CurrentAgreement(ctx, p.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "CurrentAgreement before approval")
}

func testCreatePartnerInvalid(t *testing.T, s glasshouse.Store) {
	for _, tt := range []struct {
		name     string
		edit     func(np *glasshouse.NewPartner)
		clientID string
		hash     []byte
	}{
		{"ShortName", func(np *glasshouse.NewPartner) { np.Name = "x" }, "c", []byte("h")},
		{"NoRedirectURI", func(np *glasshouse.NewPartner) { np.RedirectURIs = nil }, "c", []byte("h")},
		{"PlainHTTPRedirect", func(np *glasshouse.NewPartner) { np.RedirectURIs = []string{"http://app.example/cb"} }, "c", []byte("h")},
		{"NoScopes", func(np *glasshouse.NewPartner) { np.Scopes = nil }, "c", []byte("h")},
		{"UnknownScope", func(np *glasshouse.NewPartner) { np.Scopes = []string{"inbox"} }, "c", []byte("h")},
		{"ShortPurpose", func(np *glasshouse.NewPartner) { np.Purpose = "ads" }, "c", []byte("h")},
		{"Expired", func(np *glasshouse.NewPartner) { np.ExpiresAt = assessedAt }, "c", []byte("h")},
		{"FutureAssessment", func(np *glasshouse.NewPartner) { np.SecurityAssessedAt = agreementEnd }, "c", []byte("h")},
		{"NoClientID", func(np *glasshouse.NewPartner) {}, "", []byte("h")},
		{"NoSecretHash", func(np *glasshouse.NewPartner) {}, "c", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			np := newPartner("shopzon", glasshouse.ScopeProfile)
			tt.edit(&np)
			_, err := s.CreatePartner(t.Context(), np, tt.clientID, tt.hash)
			wantCode(t, err, glasshouse.EINVALID, "CreatePartner")
		})
	}
	ps, err := s.Partners(t.Context())
	must(t, err)
	if len(ps) != 0 {
		t.Errorf("Partners after invalid registrations = %+v, want none", ps)
	}
}

func testClientIDTaken(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	first := mustCreatePartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	_, err := s.CreatePartner(ctx, newPartner("searchly", glasshouse.ScopeFriends), first.ClientID, secretHash("searchly"))
	wantCode(t, err, glasshouse.ECONFLICT, "CreatePartner with a taken client id")
	ps, err := s.Partners(ctx)
	must(t, err)
	if len(ps) != 1 || ps[0].Name != "shopzon" {
		t.Errorf("Partners = %+v, want only shopzon", ps)
	}
	hash, err := s.PartnerSecretHash(ctx, first.ClientID)
	if err != nil || string(hash) != string(secretHash("shopzon")) {
		t.Errorf("PartnerSecretHash = %x, %v; want shopzon's hash unchanged", hash, err)
	}
}

func testPartnerNotFound(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustCreatePartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	absent := p.ID + 1000
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"PartnerByClientID", func() error { _, err := s.PartnerByClientID(ctx, "nobody"); return err }},
		{"PartnerSecretHash", func() error { _, err := s.PartnerSecretHash(ctx, "nobody"); return err }},
		{"CurrentAgreement", func() error { _, err := s.CurrentAgreement(ctx, absent); return err }},
		{"LatestAgreement", func() error { _, err := s.LatestAgreement(ctx, absent); return err }},
		{"ProposeAgreement", func() error {
			_, err := s.ProposeAgreement(ctx, absent, glasshouse.Agreement{Scopes: []string{glasshouse.ScopeProfile},
				Purpose: "A purpose long enough.", ExpiresAt: agreementEnd})
			return err
		}},
		{"ApproveAgreement", func() error { _, err := s.ApproveAgreement(ctx, "nobody", approvedAt); return err }},
		{"Suspend", func() error { _, err := s.SetPartnerStatus(ctx, "nobody", glasshouse.PartnerSuspended); return err }},
		{"Resume", func() error { _, err := s.SetPartnerStatus(ctx, "nobody", glasshouse.PartnerApproved); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), glasshouse.ENOTFOUND, tt.name) })
	}
}

func testPartnersOldestFirst(t *testing.T, s glasshouse.Store) {
	names := []string{"streamflix", "shopzon", "searchly", "abacus"}
	var want []*glasshouse.Partner
	for _, name := range names {
		np := newPartner(name, glasshouse.ScopeProfile)
		np.RedirectURIs = append(np.RedirectURIs, "https://"+name+".example/z", "https://"+name+".example/a")
		want = append(want, mustCreatePartner(t, s, np))
	}
	got, err := s.Partners(t.Context())
	must(t, err)
	if d := diff(got, want); d != "" {
		t.Errorf("Partners (oldest first, redirect URIs in registration order): %s", d)
	}
}

func testAgreementVersioning(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustPartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	v1, err := s.CurrentAgreement(ctx, p.ID)
	must(t, err)

	proposal := glasshouse.Agreement{Scopes: []string{glasshouse.ScopeEmail, glasshouse.ScopeProfile},
		Purpose: "Send receipts to the relay address.", RetentionDays: 90, ExpiresAt: agreementEnd.AddDate(-1, 0, 0),
		Version: 77, ApprovedAt: approvedAt} // a proposal never chooses its version or approval
	v2, err := s.ProposeAgreement(ctx, p.ID, proposal)
	must(t, err)
	want := &glasshouse.Agreement{PartnerID: p.ID, Version: 2, Scopes: []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail},
		Purpose: proposal.Purpose, RetentionDays: 90, ExpiresAt: proposal.ExpiresAt, CreatedAt: v2.CreatedAt}
	if d := diff(v2, want); d != "" {
		t.Errorf("ProposeAgreement: %s", d)
	}
	if latest, err := s.LatestAgreement(ctx, p.ID); err != nil || diff(latest, want) != "" {
		t.Errorf("LatestAgreement = %+v, %v; want version 2 unapproved", latest, err)
	}
	if cur, err := s.CurrentAgreement(ctx, p.ID); err != nil || diff(cur, v1) != "" {
		t.Errorf("CurrentAgreement while version 2 waits = %+v, %v; want version 1 %+v", cur, err, v1)
	}

	later := approvedAt.Add(time.Hour)
	approved, err := s.ApproveAgreement(ctx, p.ClientID, later)
	must(t, err)
	want.ApprovedAt = later
	if d := diff(approved, want); d != "" {
		t.Errorf("ApproveAgreement(version 2): %s", d)
	}
	if cur, err := s.CurrentAgreement(ctx, p.ID); err != nil || diff(cur, want) != "" {
		t.Errorf("CurrentAgreement after approval = %+v, %v; want version 2 %+v", cur, err, want)
	}

	v3, err := s.ProposeAgreement(ctx, p.ID, glasshouse.Agreement{Scopes: []string{glasshouse.ScopeFriends},
		Purpose: "Show which friends also shop here.", ExpiresAt: agreementEnd})
	must(t, err)
	if v3.Version != 3 || !v3.ApprovedAt.IsZero() {
		t.Errorf("third ProposeAgreement = version %d approved %v, want version 3 unapproved", v3.Version, v3.ApprovedAt)
	}
	if cur, err := s.CurrentAgreement(ctx, p.ID); err != nil || cur.Version != 2 {
		t.Errorf("CurrentAgreement with version 3 pending = %+v, %v; want version 2", cur, err)
	}
}

func testProposeAgreementInvalid(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustPartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	valid := glasshouse.Agreement{Scopes: []string{glasshouse.ScopeEmail}, Purpose: "Send receipts by email.", RetentionDays: 30, ExpiresAt: agreementEnd}
	for _, tt := range []struct {
		name string
		edit func(a *glasshouse.Agreement)
	}{
		{"NoScopes", func(a *glasshouse.Agreement) { a.Scopes = nil }},
		{"UnknownScope", func(a *glasshouse.Agreement) { a.Scopes = []string{"inbox.delete"} }},
		{"RepeatedScope", func(a *glasshouse.Agreement) { a.Scopes = []string{glasshouse.ScopeEmail, glasshouse.ScopeEmail} }},
		{"ShortPurpose", func(a *glasshouse.Agreement) { a.Purpose = "ads" }},
		{"NegativeRetention", func(a *glasshouse.Agreement) { a.RetentionDays = -1 }},
		{"Expired", func(a *glasshouse.Agreement) { a.ExpiresAt = assessedAt }},
		{"FutureAssessment", func(a *glasshouse.Agreement) { a.SecurityAssessedAt = agreementEnd }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := valid
			tt.edit(&a)
			_, err := s.ProposeAgreement(ctx, p.ID, a)
			wantCode(t, err, glasshouse.EINVALID, "ProposeAgreement")
		})
	}
	if latest, err := s.LatestAgreement(ctx, p.ID); err != nil || latest.Version != 1 {
		t.Errorf("LatestAgreement after invalid proposals = %+v, %v; want version 1", latest, err)
	}
}

func testApproveAgreement(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustCreatePartner(t, s, newPartner("searchly", glasshouse.ScopeFriends))
	wantStatus(t, s, p.ClientID, glasshouse.PartnerPending)
	a, err := s.ApproveAgreement(ctx, p.ClientID, approvedAt)
	must(t, err)
	if a.Version != 1 || !a.ApprovedAt.Equal(approvedAt) {
		t.Errorf("ApproveAgreement = version %d approved at %v, want version 1 at %v", a.Version, a.ApprovedAt, approvedAt)
	}
	wantStatus(t, s, p.ClientID, glasshouse.PartnerApproved)
	cur, err := s.CurrentAgreement(ctx, p.ID)
	must(t, err)
	if d := diff(cur, a); d != "" {
		t.Errorf("CurrentAgreement after approval: %s", d)
	}
}

func testApproveTwice(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("searchly", glasshouse.ScopeFriends))
	_, err := s.ApproveAgreement(t.Context(), p.ClientID, approvedAt.Add(time.Hour))
	wantCode(t, err, glasshouse.ECONFLICT, "ApproveAgreement of an approved version")
	cur, err := s.CurrentAgreement(t.Context(), p.ID)
	must(t, err)
	if !cur.ApprovedAt.Equal(approvedAt) {
		t.Errorf("CurrentAgreement().ApprovedAt = %v after a refused second approval, want %v", cur.ApprovedAt, approvedAt)
	}
}

func testApproveAssessment(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	for _, tt := range []struct {
		name     string
		scopes   []string
		assessed time.Time // zero: none
		now      time.Time
		code     string
	}{
		{"MessagesReadFresh", []string{glasshouse.ScopeMessagesRead}, assessedAt, assessedAt.Add(30 * 24 * time.Hour), ""},
		{"MessagesReadExactlyMaxAge", []string{glasshouse.ScopeMessagesRead}, assessedAt, assessedAt.Add(glasshouse.MaxAssessmentAge), ""},
		{"MessagesReadTooOld", []string{glasshouse.ScopeMessagesRead}, assessedAt, assessedAt.Add(glasshouse.MaxAssessmentAge + time.Second), glasshouse.EFORBIDDEN},
		{"MessagesReadNoAssessment", []string{glasshouse.ScopeProfile, glasshouse.ScopeMessagesRead}, time.Time{}, approvedAt, glasshouse.EFORBIDDEN},
		{"NoMessagesReadNoAssessment", []string{glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend}, time.Time{}, approvedAt, ""},
		{"NoMessagesReadOldAssessment", []string{glasshouse.ScopeProfile}, assessedAt, assessedAt.AddDate(5, 0, 0), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			np := newPartner(tt.name, tt.scopes...)
			np.SecurityAssessedAt = tt.assessed
			p := mustCreatePartner(t, s, np)
			_, err := s.ApproveAgreement(ctx, p.ClientID, tt.now)
			wantCode(t, err, tt.code, "ApproveAgreement")
			_, err = s.CurrentAgreement(ctx, p.ID)
			if tt.code == "" {
				must(t, err)
				wantStatus(t, s, p.ClientID, glasshouse.PartnerApproved)
			} else {
				wantCode(t, err, glasshouse.ENOTFOUND, "CurrentAgreement after a refused approval")
				wantStatus(t, s, p.ClientID, glasshouse.PartnerPending)
			}
		})
	}
}

func testSuspendResume(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustPartner(t, s, newPartner("streamflix", glasshouse.ScopeMessagesSend))
	other := mustPartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	for _, step := range []string{glasshouse.PartnerSuspended, glasshouse.PartnerSuspended, glasshouse.PartnerApproved, glasshouse.PartnerSuspended, glasshouse.PartnerApproved} {
		got, err := s.SetPartnerStatus(ctx, p.ClientID, step)
		must(t, err)
		if got.Status != step || got.ID != p.ID || got.Name != p.Name {
			t.Errorf("SetPartnerStatus(%s) = %+v, want partner %d with status %s", step, got, p.ID, step)
		}
		wantStatus(t, s, p.ClientID, step)
	}
	wantStatus(t, s, other.ClientID, glasshouse.PartnerApproved)

	// Approving a new agreement version does not lift a suspension.
	_, err := s.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerSuspended)
	must(t, err)
	latest, err := s.LatestAgreement(ctx, p.ID)
	must(t, err)
	next := *latest
	next.Scopes = []string{glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend}
	_, err = s.ProposeAgreement(ctx, p.ID, next)
	must(t, err)
	_, err = s.ApproveAgreement(ctx, p.ClientID, time.Now())
	must(t, err)
	wantStatus(t, s, p.ClientID, glasshouse.PartnerSuspended)
}

func testResumeNeedsApprovedAgreement(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustCreatePartner(t, s, newPartner("streamflix", glasshouse.ScopeMessagesSend))
	_, err := s.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerApproved)
	wantCode(t, err, glasshouse.ECONFLICT, "resuming a pending partner")
	wantStatus(t, s, p.ClientID, glasshouse.PartnerPending)

	_, err = s.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerSuspended)
	must(t, err)
	_, err = s.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerApproved)
	wantCode(t, err, glasshouse.ECONFLICT, "resuming a suspended partner that was never approved")
	wantStatus(t, s, p.ClientID, glasshouse.PartnerSuspended)
}

func testUnknownPartnerStatus(t *testing.T, s glasshouse.Store) {
	p := mustPartner(t, s, newPartner("streamflix", glasshouse.ScopeMessagesSend))
	for _, status := range []string{glasshouse.PartnerPending, "deleted", "", "Approved"} {
		t.Run(fmt.Sprintf("%q", status), func(t *testing.T) {
			_, err := s.SetPartnerStatus(t.Context(), p.ClientID, status)
			wantCode(t, err, glasshouse.EINVALID, "SetPartnerStatus")
		})
	}
	wantStatus(t, s, p.ClientID, glasshouse.PartnerApproved)
}

// testPortalEpoch: a partner's portal epoch starts at 0 and each
// EndPortalSessions moves it on; unknown partners are ENOTFOUND.
func testPortalEpoch(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustPartner(t, s, newPartner("streamflix", glasshouse.ScopeProfile))
	other := mustPartner(t, s, newPartner("shopzon", glasshouse.ScopeProfile))
	epoch, err := s.PortalEpoch(ctx, p.ClientID)
	if err != nil || epoch != 0 {
		t.Fatalf("PortalEpoch of a new partner = %d, %v; want 0", epoch, err)
	}
	must(t, s.EndPortalSessions(ctx, p.ClientID))
	must(t, s.EndPortalSessions(ctx, p.ClientID))
	if epoch, err := s.PortalEpoch(ctx, p.ClientID); err != nil || epoch != 2 {
		t.Errorf("PortalEpoch after two sign-outs = %d, %v; want 2", epoch, err)
	}
	if epoch, err := s.PortalEpoch(ctx, other.ClientID); err != nil || epoch != 0 {
		t.Errorf("another partner's PortalEpoch = %d, %v; want 0", epoch, err)
	}
	_, err = s.PortalEpoch(ctx, "nobody")
	wantCode(t, err, glasshouse.ENOTFOUND, "PortalEpoch of an unknown partner")
	wantCode(t, s.EndPortalSessions(ctx, "nobody"), glasshouse.ENOTFOUND, "EndPortalSessions of an unknown partner")
}
