package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var grantTests = []test{
	{"Save", testSaveGrant},
	{"SaveInvalid", testSaveGrantInvalid},
	{"Replace", testReplaceGrant},
	{"ReplaceRevokesDroppedScopes", testReplaceRevokesDroppedScopes},
	{"RelayAddressUnique", testRelayAddressUnique},
	{"NewestFirst", testGrantsNewestFirst},
	{"NotFound", testGrantNotFound},
	{"RevokeGrant", testRevokeGrant},
	{"RevokeScope", testRevokeScope},
	{"SetRelayEnabled", testSetRelayEnabled},
	{"GrantingFriends", testGrantingFriends},
	{"GrantingFriendsPaging", testGrantingFriendsPaging},
	{"FriendsWithGrants", testFriendsWithGrants},
	{"AgreementNarrowsGrants", testAgreementNarrowsGrants},
}

// consentAt is when the suite's grants are confirmed. It is far from the
// real clock, so a store that ignores the now parameter fails.
var consentAt = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// everyScope registers a partner that may ask for every data scope, with a
// fresh security assessment, and approves it.
func everyScope(t *testing.T, s glasshouse.Store, name string) *glasshouse.Partner {
	t.Helper()
	return mustPartner(t, s, assessed(newPartner(name, glasshouse.DataScopes...)))
}

// newGrant returns m's consent to version 1 of p's agreement, confirmed at
// consentAt for glasshouse.GrantLifetime.
func newGrant(m *glasshouse.Member, p *glasshouse.Partner, scopes ...string) glasshouse.Grant {
	return glasshouse.Grant{MemberID: m.ID, PartnerID: p.ID, AgreementVersion: 1, Scopes: scopes,
		ConfirmedAt: consentAt, ExpiresAt: consentAt.Add(glasshouse.GrantLifetime)}
}

// relayEmail is the relay address the suite gives m at p.
func relayEmail(m *glasshouse.Member, p *glasshouse.Partner) string {
	return fmt.Sprintf("%s.%d@relay.example", m.Handle, p.ID)
}

// mustGrant saves m's consent to p with the given scopes.
func mustGrant(t *testing.T, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner, scopes ...string) *glasshouse.Grant {
	t.Helper()
	return mustSaveGrant(t, s, newGrant(m, p, scopes...), relayEmail(m, p))
}

func mustSaveGrant(t *testing.T, s glasshouse.Store, g glasshouse.Grant, relay string) *glasshouse.Grant {
	t.Helper()
	saved, err := s.SaveGrant(t.Context(), g, relay)
	if err != nil {
		t.Fatalf("SaveGrant(member %d, partner %d, %q): %v", g.MemberID, g.PartnerID, g.Scopes, err)
	}
	return saved
}

// wantGrant checks the stored grant of want's member to want's partner.
func wantGrant(t *testing.T, s glasshouse.Store, want *glasshouse.Grant) {
	t.Helper()
	got, err := s.Grant(t.Context(), want.MemberID, want.PartnerID)
	if err != nil {
		t.Errorf("Grant(%d, %d): %v", want.MemberID, want.PartnerID, err)
	} else if d := diff(got, want); d != "" {
		t.Errorf("Grant(%d, %d): %s", want.MemberID, want.PartnerID, d)
	}
}

// wantNoGrant checks that m has no grant to p.
func wantNoGrant(t *testing.T, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner) {
	t.Helper()
	_, err := s.Grant(t.Context(), m.ID, p.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("Grant(%s, %s)", m.Handle, p.Name))
}

func testSaveGrant(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, a, b)
	g := newGrant(a, p, glasshouse.ScopeMessagesRead, glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	g.RealEmail, g.Conversations = true, []int64{c.ID}
	got := mustSaveGrant(t, s, g, "x1@relay.example")
	if got.ID == 0 {
		t.Fatalf("SaveGrant = %+v, want an ID", got)
	}
	want := &glasshouse.Grant{ID: got.ID, MemberID: a.ID, PartnerID: p.ID, PartnerName: "streamflix", AgreementVersion: 1,
		Scopes:    []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeMessagesRead},
		RealEmail: true, Conversations: []int64{c.ID}, RelayEmail: "x1@relay.example", RelayEnabled: true,
		GrantedAt: consentAt, ConfirmedAt: consentAt, ExpiresAt: g.ExpiresAt}
	if d := diff(got, want); d != "" {
		t.Errorf("SaveGrant (scopes in glasshouse.DataScopes order, GrantedAt from ConfirmedAt): %s", d)
	}
	wantGrant(t, s, want)
	gs, err := s.Grants(t.Context(), a.ID)
	must(t, err)
	if d := diff(gs, []*glasshouse.Grant{want}); d != "" {
		t.Errorf("Grants(alice): %s", d)
	}
	gs, err = s.Grants(t.Context(), b.ID)
	must(t, err)
	if len(gs) != 0 {
		t.Errorf("Grants(bob) = %+v, want none", gs)
	}
}

func testSaveGrantInvalid(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	p := mustPartner(t, s, assessed(newPartner("shopzon", glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeMessagesRead)))
	mine, theirs := MustDirect(t, s, a, b), MustDirect(t, s, b, c)
	for _, tt := range []struct {
		name string
		edit func(g *glasshouse.Grant)
		code string
	}{
		{"UnknownScope", func(g *glasshouse.Grant) { g.Scopes = []string{"inbox"} }, glasshouse.EINVALID},
		{"ProtocolScope", func(g *glasshouse.Grant) { g.Scopes = []string{glasshouse.ScopeOpenID} }, glasshouse.EINVALID},
		{"RepeatedScope", func(g *glasshouse.Grant) { g.Scopes = []string{glasshouse.ScopeEmail, glasshouse.ScopeEmail} }, glasshouse.EINVALID},
		{"ScopeOutsideAgreement", func(g *glasshouse.Grant) { g.Scopes = []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends} }, glasshouse.EINVALID},
		{"ConversationsWithoutMessagesRead", func(g *glasshouse.Grant) { g.Conversations = []int64{mine.ID} }, glasshouse.EINVALID},
		{"RepeatedConversation", func(g *glasshouse.Grant) {
			g.Scopes, g.Conversations = []string{glasshouse.ScopeMessagesRead}, []int64{mine.ID, mine.ID}
		}, glasshouse.EINVALID},
		{"NoConfirmation", func(g *glasshouse.Grant) { g.ConfirmedAt = time.Time{} }, glasshouse.EINVALID},
		{"ExpiresBeforeConfirmation", func(g *glasshouse.Grant) { g.ExpiresAt = consentAt.Add(-time.Second) }, glasshouse.EINVALID},
		{"UnknownAgreementVersion", func(g *glasshouse.Grant) { g.AgreementVersion = 2 }, glasshouse.ENOTFOUND},
		{"UnknownPartner", func(g *glasshouse.Grant) { g.PartnerID += 1000 }, glasshouse.ENOTFOUND},
		{"UnknownMember", func(g *glasshouse.Grant) { g.MemberID = c.ID + 1000 }, glasshouse.ENOTFOUND},
		{"ConversationNotMine", func(g *glasshouse.Grant) {
			g.Scopes, g.Conversations = []string{glasshouse.ScopeMessagesRead}, []int64{theirs.ID}
		}, glasshouse.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrant(a, p, glasshouse.ScopeProfile)
			tt.edit(&g)
			_, err := s.SaveGrant(t.Context(), g, relayEmail(a, p))
			wantCode(t, err, tt.code, "SaveGrant")
		})
	}
	gs, err := s.Grants(t.Context(), a.ID)
	must(t, err)
	if len(gs) != 0 {
		t.Errorf("Grants(alice) after refused grants = %+v, want none", gs)
	}
	// The relay address of a refused grant stays free.
	mustGrant(t, s, a, p, glasshouse.ScopeEmail)
}

func testReplaceGrant(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	p := everyScope(t, s, "streamflix")
	c1, c2 := MustDirect(t, s, a, b), MustDirect(t, s, a, c)
	g := newGrant(a, p, glasshouse.ScopeProfile, glasshouse.ScopeMessagesRead)
	g.Conversations = []int64{c1.ID}
	first := mustSaveGrant(t, s, g, "first@relay.example")
	must(t, s.SetRelayEnabled(ctx, a.ID, p.ID, false))

	again := glasshouse.Grant{MemberID: a.ID, PartnerID: p.ID, AgreementVersion: 1,
		Scopes: []string{glasshouse.ScopeMessagesRead, glasshouse.ScopeEmail, glasshouse.ScopeFriends}, RealEmail: true,
		Conversations: []int64{c2.ID, c1.ID}, ConfirmedAt: consentAt.Add(10 * 24 * time.Hour),
		ExpiresAt: consentAt.Add(100 * 24 * time.Hour), GrantedAt: consentAt.Add(time.Hour), RelayEnabled: true}
	got := mustSaveGrant(t, s, again, "second@relay.example")
	want := &glasshouse.Grant{ID: first.ID, MemberID: a.ID, PartnerID: p.ID, PartnerName: "streamflix", AgreementVersion: 1,
		Scopes:    []string{glasshouse.ScopeEmail, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead},
		RealEmail: true, Conversations: []int64{c1.ID, c2.ID}, RelayEmail: "first@relay.example", RelayEnabled: false,
		GrantedAt: consentAt, ConfirmedAt: again.ConfirmedAt, ExpiresAt: again.ExpiresAt}
	if d := diff(got, want); d != "" {
		t.Errorf("SaveGrant over an existing grant (keeps ID, GrantedAt and the relay; replaces the rest): %s", d)
	}
	wantGrant(t, s, want)
	gs, err := s.Grants(ctx, a.ID)
	must(t, err)
	if len(gs) != 1 {
		t.Errorf("Grants(alice) = %d grants after consenting twice to one partner, want 1", len(gs))
	}
	// The second address was not kept, so it is free for another grant.
	q := everyScope(t, s, "shopzon")
	if g := mustSaveGrant(t, s, newGrant(a, q, glasshouse.ScopeEmail), "second@relay.example"); g.RelayEmail != "second@relay.example" {
		t.Errorf("relay address of a new grant = %q, want second@relay.example", g.RelayEmail)
	}
}

func testReplaceRevokesDroppedScopes(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	p := everyScope(t, s, "streamflix")
	mustGrant(t, s, a, p, glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend)
	mustTokens(t, s, a, p, "send", glasshouse.ScopeOpenID, glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend)
	mustTokens(t, s, a, p, "profile", glasshouse.ScopeOpenID, glasshouse.ScopeProfile)
	mustGrant(t, s, a, p, glasshouse.ScopeProfile, glasshouse.ScopeFriends)
	wantRevoked(t, s, map[string]bool{"at-send": true, "rt-send": true, "at-profile": false, "rt-profile": false})
}

func testRelayAddressUnique(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p, q := everyScope(t, s, "streamflix"), everyScope(t, s, "shopzon")
	mustSaveGrant(t, s, newGrant(a, p, glasshouse.ScopeEmail), "same@relay.example")
	for _, tt := range []struct {
		name string
		g    glasshouse.Grant
	}{
		{"OtherMember", newGrant(b, p, glasshouse.ScopeEmail)},
		{"OtherPartner", newGrant(a, q, glasshouse.ScopeEmail)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SaveGrant(t.Context(), tt.g, "same@relay.example")
			wantCode(t, err, glasshouse.ECONFLICT, "SaveGrant with a taken relay address")
		})
	}
	wantNoGrant(t, s, b, p)
	wantNoGrant(t, s, a, q)
}

func testGrantsNewestFirst(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	ps := []*glasshouse.Partner{everyScope(t, s, "streamflix"), everyScope(t, s, "shopzon"), everyScope(t, s, "searchly")}
	var want []int64
	for i, p := range []*glasshouse.Partner{ps[1], ps[0], ps[2]} {
		g := newGrant(a, p, glasshouse.ScopeProfile)
		g.ConfirmedAt = consentAt.Add(time.Duration(i) * time.Hour)
		mustSaveGrant(t, s, g, relayEmail(a, p))
		want = append([]int64{p.ID}, want...)
	}
	mustGrant(t, s, b, ps[0], glasshouse.ScopeProfile)
	gs, err := s.Grants(t.Context(), a.ID)
	must(t, err)
	var got []int64
	for _, g := range gs {
		if g.MemberID != a.ID {
			t.Errorf("Grants(alice) includes a grant of member %d", g.MemberID)
		}
		got = append(got, g.PartnerID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Grants(alice) are of partners %v, want %v (newest first)", got, want)
	}
}

func testGrantNotFound(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p := everyScope(t, s, "streamflix")
	mustGrant(t, s, a, p, glasshouse.ScopeProfile)
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"Grant", func() error { _, err := s.Grant(ctx, b.ID, p.ID); return err }()},
		{"GrantOtherPartner", func() error { _, err := s.Grant(ctx, a.ID, p.ID+1000); return err }()},
		{"RevokeGrant", s.RevokeGrant(ctx, b.ID, p.ID)},
		{"RevokeScopeWithoutGrant", s.RevokeScope(ctx, b.ID, p.ID, glasshouse.ScopeProfile)},
		{"RevokeScopeNotGranted", s.RevokeScope(ctx, a.ID, p.ID, glasshouse.ScopeEmail)},
		{"SetRelayEnabled", s.SetRelayEnabled(ctx, b.ID, p.ID, false)},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err, glasshouse.ENOTFOUND, tt.name) })
	}
}

func testRevokeGrant(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p, q := everyScope(t, s, "streamflix"), everyScope(t, s, "shopzon")
	mustGrant(t, s, a, p, glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend)
	keep := mustGrant(t, s, a, q, glasshouse.ScopeProfile)
	keepB := mustGrant(t, s, b, p, glasshouse.ScopeProfile)
	mustTokens(t, s, a, p, "ap1", glasshouse.ScopeOpenID, glasshouse.ScopeProfile)
	mustTokens(t, s, a, p, "ap2", glasshouse.ScopeMessagesSend)
	mustTokens(t, s, a, q, "aq", glasshouse.ScopeProfile)
	mustTokens(t, s, b, p, "bp", glasshouse.ScopeProfile)

	must(t, s.RevokeGrant(ctx, a.ID, p.ID))
	wantNoGrant(t, s, a, p)
	wantGrant(t, s, keep)
	wantGrant(t, s, keepB)
	wantRevoked(t, s, map[string]bool{"at-ap1": true, "rt-ap1": true, "at-ap2": true, "rt-ap2": true,
		"at-aq": false, "rt-aq": false, "at-bp": false, "rt-bp": false})
	wantCode(t, s.RevokeGrant(ctx, a.ID, p.ID), glasshouse.ENOTFOUND, "RevokeGrant of a revoked grant")

	// Consent given again starts afresh.
	again := mustSaveGrant(t, s, newGrant(a, p, glasshouse.ScopeEmail), "new@relay.example")
	if again.RelayEmail != "new@relay.example" || !slices.Equal(again.Scopes, []string{glasshouse.ScopeEmail}) {
		t.Errorf("SaveGrant after RevokeGrant = %+v, want a new grant of email with relay new@relay.example", again)
	}
}

func testRevokeScope(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p := everyScope(t, s, "streamflix")
	c := MustDirect(t, s, a, b)
	g := newGrant(a, p, glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead)
	g.Conversations = []int64{c.ID}
	want := mustSaveGrant(t, s, g, relayEmail(a, p))
	mustTokens(t, s, a, p, "read", glasshouse.ScopeOpenID, glasshouse.ScopeProfile, glasshouse.ScopeMessagesRead)
	mustTokens(t, s, a, p, "friends", glasshouse.ScopeOpenID, glasshouse.ScopeFriends)
	mustTokens(t, s, a, p, "profile", glasshouse.ScopeProfile)

	must(t, s.RevokeScope(ctx, a.ID, p.ID, glasshouse.ScopeMessagesRead))
	want.Scopes, want.Conversations = []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends}, nil
	wantGrant(t, s, want)
	wantRevoked(t, s, map[string]bool{"at-read": true, "rt-read": true, "at-friends": false, "rt-friends": false, "at-profile": false})

	must(t, s.RevokeScope(ctx, a.ID, p.ID, glasshouse.ScopeFriends))
	want.Scopes = []string{glasshouse.ScopeProfile}
	wantGrant(t, s, want)
	wantRevoked(t, s, map[string]bool{"at-friends": true, "rt-friends": true, "at-profile": false, "rt-profile": false})
	wantCode(t, s.RevokeScope(ctx, a.ID, p.ID, glasshouse.ScopeFriends), glasshouse.ENOTFOUND, "RevokeScope of a revoked scope")
}

func testSetRelayEnabled(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	p := everyScope(t, s, "shopzon")
	want := mustGrant(t, s, a, p, glasshouse.ScopeEmail)
	for _, enabled := range []bool{false, false, true} {
		must(t, s.SetRelayEnabled(t.Context(), a.ID, p.ID, enabled))
		want.RelayEnabled = enabled
		wantGrant(t, s, want)
	}
}

func testGrantingFriends(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan")
	alice, bob, carol, dave, erin, frank, gina, hank, ivan := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6], ms[7], ms[8]
	p, other := everyScope(t, s, "searchly"), everyScope(t, s, "shopzon")
	MustFriends(t, s, alice, bob, carol, dave, erin, gina, hank, ivan)
	now := consentAt.Add(24 * time.Hour)

	mustGrant(t, s, bob, p, glasshouse.ScopeProfile, glasshouse.ScopeFriends) // live, friends
	mustGrant(t, s, carol, p, glasshouse.ScopeProfile)                        // no friends scope
	expired := newGrant(dave, p, glasshouse.ScopeFriends)                     // ends at now
	expired.ConfirmedAt, expired.ExpiresAt = now.Add(-glasshouse.GrantLifetime), now
	mustSaveGrant(t, s, expired, relayEmail(dave, p))
	mustGrant(t, s, erin, other, glasshouse.ScopeFriends)                      // another partner
	mustGrant(t, s, frank, p, glasshouse.ScopeFriends)                         // not a friend
	mustGrant(t, s, gina, p, glasshouse.ScopeFriends)                          // live, friends
	mustGrant(t, s, hank, p, glasshouse.ScopeFriends)                          // revoked below
	mustGrant(t, s, ivan, p, glasshouse.ScopeFriends, glasshouse.ScopeProfile) // friends revoked below
	must(t, s.RevokeGrant(ctx, hank.ID, p.ID))
	must(t, s.RevokeScope(ctx, ivan.ID, p.ID, glasshouse.ScopeFriends))

	for _, tt := range []struct {
		name    string
		scope   string
		now     time.Time
		afterID int64
		limit   int
		want    []*glasshouse.Member
	}{
		{"Friends", glasshouse.ScopeFriends, now, 0, 100, []*glasshouse.Member{bob, gina}},
		{"Profile", glasshouse.ScopeProfile, now, 0, 100, []*glasshouse.Member{bob, carol, ivan}},
		{"BeforeExpiry", glasshouse.ScopeFriends, now.Add(-time.Microsecond), 0, 100, []*glasshouse.Member{bob, dave, gina}},
		{"AllExpired", glasshouse.ScopeFriends, consentAt.Add(glasshouse.GrantLifetime), 0, 100, nil},
		{"Limit", glasshouse.ScopeFriends, now, 0, 1, []*glasshouse.Member{bob}},
		{"After", glasshouse.ScopeFriends, now, bob.ID, 1, []*glasshouse.Member{gina}},
		{"AfterLast", glasshouse.ScopeFriends, now, gina.ID, 100, nil},
		{"MessagesSend", glasshouse.ScopeMessagesSend, now, 0, 100, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GrantingFriends(ctx, alice.ID, p.ID, tt.scope, tt.now, tt.afterID, tt.limit)
			must(t, err)
			want := []int64{}
			for _, m := range tt.want {
				want = append(want, m.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("GrantingFriends(alice, %s, after %d, limit %d) = %v, want %v", tt.scope, tt.afterID, tt.limit, got, want)
			}
			fgs, err := s.FriendsWithGrants(ctx, alice.ID, p.ID, tt.scope, tt.now, tt.afterID, tt.limit)
			must(t, err)
			got = []int64{}
			for _, fg := range fgs {
				got = append(got, fg.Member.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("FriendsWithGrants(alice, %s, after %d, limit %d) = %v, want %v", tt.scope, tt.afterID, tt.limit, got, want)
			}
		})
	}
	_, err := s.GrantingFriends(ctx, alice.ID, p.ID, glasshouse.ScopeFriends, now, 0, 0)
	wantCode(t, err, glasshouse.EINVALID, "GrantingFriends with limit 0")
	_, err = s.FriendsWithGrants(ctx, alice.ID, p.ID, glasshouse.ScopeFriends, now, 0, 0)
	wantCode(t, err, glasshouse.EINVALID, "FriendsWithGrants with limit 0")
}

// testFriendsWithGrants checks what FriendsWithGrants returns of each
// friend: the listing's fields of the member row, and the grant to the
// partner asked about, with its scopes and expiry, and nothing else.
func testFriendsWithGrants(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	p, other := everyScope(t, s, "searchly"), everyScope(t, s, "shopzon")
	MustFriends(t, s, alice, bob, carol)
	hidden := glasshouse.Fields{DisplayName: glasshouse.VisibleToMe, Email: glasshouse.VisibleToMe, Phone: glasshouse.VisibleToMe, PictureURL: glasshouse.VisibleToFriends}
	_, err := s.UpdateProfile(ctx, carol.ID, glasshouse.ProfileUpdate{PictureURL: ptr("https://pics.example/carol.png"), Visibility: &hidden})
	must(t, err)

	g := newGrant(bob, p, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead, glasshouse.ScopeProfile)
	g.Conversations = []int64{MustDirect(t, s, bob, alice).ID}
	mustSaveGrant(t, s, g, relayEmail(bob, p))
	later := newGrant(carol, p, glasshouse.ScopeFriends)
	later.ConfirmedAt, later.ExpiresAt = consentAt.Add(time.Hour), consentAt.Add(time.Hour+glasshouse.GrantLifetime)
	mustSaveGrant(t, s, later, relayEmail(carol, p))
	mustGrant(t, s, bob, other, glasshouse.ScopeEmail, glasshouse.ScopeFriends)

	got, err := s.FriendsWithGrants(ctx, alice.ID, p.ID, glasshouse.ScopeFriends, consentAt, 0, 10)
	must(t, err)
	var want []glasshouse.FriendGrant
	for _, f := range []*glasshouse.Member{bob, carol} {
		m, err := s.MemberByID(ctx, f.ID)
		must(t, err)
		fg, err := s.Grant(ctx, f.ID, p.ID)
		must(t, err)
		want = append(want, glasshouse.FriendGrant{
			Member: &glasshouse.Member{ID: m.ID, DisplayName: m.DisplayName, PictureURL: m.PictureURL,
				Visibility: glasshouse.Fields{DisplayName: m.Visibility.DisplayName, PictureURL: m.Visibility.PictureURL}},
			Grant: &glasshouse.Grant{MemberID: f.ID, PartnerID: p.ID, Scopes: fg.Scopes, ExpiresAt: fg.ExpiresAt},
		})
	}
	if d := diff(got, want); d != "" {
		t.Errorf("FriendsWithGrants(alice, searchly): %s", d)
	}
	if got, want := want[0].Grant.Scopes, []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead}; !slices.Equal(got, want) {
		t.Errorf("bob's scopes at searchly = %v, want %v (and not shopzon's)", got, want)
	}
}

func testGrantingFriendsPaging(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	p := everyScope(t, s, "searchly")
	var want []int64
	for i := range 10 {
		f := MustMember(t, s, fmt.Sprintf("friend%02d", i))
		MustFriends(t, s, a, f)
		if i%3 != 1 {
			mustGrant(t, s, f, p, glasshouse.ScopeFriends)
			want = append(want, f.ID)
		}
	}
	slices.Sort(want)
	var got []int64
	after := int64(0)
	for pages := 0; ; pages++ {
		page, err := s.GrantingFriends(t.Context(), a.ID, p.ID, glasshouse.ScopeFriends, consentAt, after, 3)
		must(t, err)
		if len(page) > 3 || pages > len(want) {
			t.Fatalf("GrantingFriends page %d = %v: over its limit of 3, or paging does not end", pages, page)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("GrantingFriends paged by 3 = %v, want %v", got, want)
	}
}

// testAgreementNarrowsGrants approves an agreement that drops scopes, then
// one that asks for them again: the dropped scopes are gone from every
// member's grant (with the picked conversations) and do not come back
// without the member's consent; other partners' grants are untouched.
func testAgreementNarrowsGrants(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	p, other := everyScope(t, s, "streamflix"), everyScope(t, s, "shopzon")
	c := MustDirect(t, s, a, b)
	g := newGrant(a, p, glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead)
	g.Conversations = []int64{c.ID}
	mustSaveGrant(t, s, g, relayEmail(a, p))
	mustGrant(t, s, b, p, glasshouse.ScopeFriends)
	keep := mustGrant(t, s, a, other, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)

	approve := func(scopes ...string) {
		t.Helper()
		_, err := s.ProposeAgreement(ctx, p.ID, glasshouse.Agreement{Scopes: scopes, Purpose: "Lets streamflix do what its users ask of it.",
			RetentionDays: 30, ExpiresAt: agreementEnd, SecurityAssessedAt: assessedAt})
		must(t, err)
		_, err = s.ApproveAgreement(ctx, p.ClientID, approvedAt.Add(time.Hour))
		must(t, err)
	}
	scopesOf := func(m *glasshouse.Member) ([]string, []int64) {
		t.Helper()
		got, err := s.Grant(ctx, m.ID, p.ID)
		must(t, err)
		return got.Scopes, got.Conversations
	}

	approve(glasshouse.ScopeProfile)
	if sc, cs := scopesOf(a); !slices.Equal(sc, []string{glasshouse.ScopeProfile}) || len(cs) != 0 {
		t.Errorf("alice's grant after the agreement dropped friends and messages.read: scopes %q, conversations %v", sc, cs)
	}
	if sc, _ := scopesOf(b); len(sc) != 0 {
		t.Errorf("bob's grant after the agreement dropped friends: scopes %q, want none", sc)
	}
	approve(glasshouse.DataScopes...)
	if sc, cs := scopesOf(a); !slices.Equal(sc, []string{glasshouse.ScopeProfile}) || len(cs) != 0 {
		t.Errorf("alice's grant after the agreement asked for them again: scopes %q, conversations %v; want profile alone", sc, cs)
	}
	wantGrant(t, s, keep)
}
