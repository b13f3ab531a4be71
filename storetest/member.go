package storetest

import (
	"testing"

	"github.com/glasshouse/glasshouse"
)

var memberTests = []test{
	{"Create", testCreateMember},
	{"CreateConflict", testCreateMemberConflict},
	{"NotFound", testMemberNotFound},
	{"PasswordHash", testPasswordHash},
	{"SetPassword", testSetPassword},
	{"UpdateProfile", testUpdateProfile},
	{"UpdateProfileConflict", testUpdateProfileConflict},
	{"SeenByFriends", testSeenByFriends},
	{"NoHiddenFields", testNoHiddenFields},
	{"Ping", testPing},
}

func ptr[T any](v T) *T { return &v }

func testCreateMember(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := &glasshouse.Member{
		Handle:      "alice",
		DisplayName: "Alice Liddell",
		Email:       "alice@example.org",
		Phone:       "+44 20 7946 0000",
		PictureURL:  "https://example.org/alice.png",
		Visibility:  glasshouse.Fields{DisplayName: glasshouse.VisibleToFriends, Email: glasshouse.VisibleToMe, Phone: glasshouse.VisibleToFriends, PictureURL: glasshouse.VisibleToMe},
	}
	must(t, s.CreateMember(ctx, a, "hash-a"))
	if a.ID == 0 || a.CreatedAt.IsZero() {
		t.Fatalf("CreateMember left ID = %d, CreatedAt = %v; want both set", a.ID, a.CreatedAt)
	}
	b := MustMember(t, s, "bob")
	if b.ID == a.ID {
		t.Errorf("two members got the same ID %d", a.ID)
	}

	byID, err := s.MemberByID(ctx, a.ID)
	must(t, err)
	if d := diffMember(byID, a); d != "" {
		t.Errorf("MemberByID: %s", d)
	}
	byHandle, err := s.MemberByHandle(ctx, "alice")
	must(t, err)
	if d := diffMember(byHandle, a); d != "" {
		t.Errorf("MemberByHandle: %s", d)
	}
}

func testCreateMemberConflict(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	for _, tt := range []struct {
		name, handle, email string
	}{
		{"Handle", "alice", "other@example.org"},
		{"Email", "alice2", "alice@example.org"},
		{"Both", "alice", "alice@example.org"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &glasshouse.Member{Handle: tt.handle, Email: tt.email, Visibility: glasshouse.DefaultVisibility}
			wantCode(t, s.CreateMember(ctx, m, "hash"), glasshouse.ECONFLICT, "CreateMember("+tt.handle+", "+tt.email+")")
		})
	}
	got, err := s.MemberByHandle(ctx, "alice")
	must(t, err)
	if d := diffMember(got, a); d != "" {
		t.Errorf("after conflicts, MemberByHandle(alice): %s", d)
	}
	_, err = s.MemberByHandle(ctx, "alice2")
	wantCode(t, err, glasshouse.ENOTFOUND, "MemberByHandle(alice2) after its conflicting creation")
	if _, hash, err := s.PasswordHash(ctx, "alice"); err != nil || hash != "hash-of-alice" {
		t.Errorf("PasswordHash(alice) after conflicts = %q, %v; want the original hash", hash, err)
	}
}

func testMemberNotFound(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	absent := a.ID + 1000
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"MemberByID", func() error { _, err := s.MemberByID(ctx, absent); return err }},
		{"MemberByHandle", func() error { _, err := s.MemberByHandle(ctx, "nobody"); return err }},
		{"PasswordHash", func() error { _, _, err := s.PasswordHash(ctx, "nobody"); return err }},
		{"SetPassword", func() error { return s.SetPassword(ctx, absent, "hash", nil) }},
		{"UpdateProfile", func() error {
			_, err := s.UpdateProfile(ctx, absent, glasshouse.ProfileUpdate{DisplayName: ptr("Nobody")})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), glasshouse.ENOTFOUND, tt.name+" of an absent member")
		})
	}
}

func testPasswordHash(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	MustMember(t, s, "bob")
	id, hash, err := s.PasswordHash(t.Context(), "alice")
	must(t, err)
	if id != a.ID || hash != "hash-of-alice" {
		t.Errorf("PasswordHash(alice) = %d, %q; want %d, %q", id, hash, a.ID, "hash-of-alice")
	}
}

func testSetPassword(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	b := MustMember(t, s, "bob")
	a1, a2, a3 := mustSession(t, s, a, "a1"), mustSession(t, s, a, "a2"), mustSession(t, s, a, "a3")
	b1 := mustSession(t, s, b, "b1")

	must(t, s.SetPassword(ctx, a.ID, "new-hash", a2.TokenHash))
	if _, hash, err := s.PasswordHash(ctx, "alice"); err != nil || hash != "new-hash" {
		t.Errorf("PasswordHash(alice) after SetPassword = %q, %v; want %q", hash, err, "new-hash")
	}
	if _, hash, err := s.PasswordHash(ctx, "bob"); err != nil || hash != "hash-of-bob" {
		t.Errorf("PasswordHash(bob) after alice's SetPassword = %q, %v; want %q", hash, err, "hash-of-bob")
	}
	wantSessions(t, s, map[*glasshouse.Session]bool{a1: false, a2: true, a3: false, b1: true})

	must(t, s.SetPassword(ctx, a.ID, "newer-hash", nil))
	wantSessions(t, s, map[*glasshouse.Session]bool{a2: false, b1: true})
}

func testUpdateProfile(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	MustMember(t, s, "bob")
	want := *a
	friendsOnly := glasshouse.Fields{DisplayName: glasshouse.VisibleToMe, Email: glasshouse.VisibleToFriends, Phone: glasshouse.VisibleToFriends, PictureURL: glasshouse.VisibleToMe}
	for _, tt := range []struct {
		name   string
		update glasshouse.ProfileUpdate
		apply  func(m *glasshouse.Member)
	}{
		{"DisplayName", glasshouse.ProfileUpdate{DisplayName: ptr("Alice L.")}, func(m *glasshouse.Member) { m.DisplayName = "Alice L." }},
		{"PhoneAndPicture", glasshouse.ProfileUpdate{Phone: ptr("+1 555 0100"), PictureURL: ptr("https://example.org/a.png")}, func(m *glasshouse.Member) {
			m.Phone, m.PictureURL = "+1 555 0100", "https://example.org/a.png"
		}},
		{"Email", glasshouse.ProfileUpdate{Email: ptr("liddell@example.org")}, func(m *glasshouse.Member) { m.Email = "liddell@example.org" }},
		{"SameEmail", glasshouse.ProfileUpdate{Email: ptr("liddell@example.org")}, func(m *glasshouse.Member) {}},
		{"Visibility", glasshouse.ProfileUpdate{Visibility: &friendsOnly}, func(m *glasshouse.Member) { m.Visibility = friendsOnly }},
		{"ClearPhone", glasshouse.ProfileUpdate{Phone: ptr("")}, func(m *glasshouse.Member) { m.Phone = "" }},
		{"Nothing", glasshouse.ProfileUpdate{}, func(m *glasshouse.Member) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.apply(&want)
			got, err := s.UpdateProfile(ctx, a.ID, tt.update)
			must(t, err)
			if d := diffMember(got, &want); d != "" {
				t.Errorf("UpdateProfile returned %s", d)
			}
			stored, err := s.MemberByID(ctx, a.ID)
			must(t, err)
			if d := diffMember(stored, &want); d != "" {
				t.Errorf("MemberByID after UpdateProfile: %s", d)
			}
		})
	}
}

func testUpdateProfileConflict(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	MustMember(t, s, "bob")
	_, err := s.UpdateProfile(ctx, a.ID, glasshouse.ProfileUpdate{DisplayName: ptr("Changed"), Email: ptr("bob@example.org")})
	wantCode(t, err, glasshouse.ECONFLICT, "UpdateProfile(alice, email of bob)")
	got, err := s.MemberByID(ctx, a.ID)
	must(t, err)
	if d := diffMember(got, a); d != "" {
		t.Errorf("a failed UpdateProfile changed the member: %s", d)
	}
}

// testSeenByFriends checks that Friends shows each friend as Member.SeenBy
// does for a friend, following the friend's visibility settings.
func testSeenByFriends(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a := MustMember(t, s, "alice")
	b := MustMember(t, s, "bob")
	MustFriends(t, s, a, b)
	b, err := s.UpdateProfile(ctx, b.ID, glasshouse.ProfileUpdate{Phone: ptr("+1 555 0100"), PictureURL: ptr("https://example.org/b.png")})
	must(t, err)

	for _, tt := range []struct {
		name       string
		visibility glasshouse.Fields
	}{
		{"Default", glasshouse.DefaultVisibility},
		{"AllFriends", glasshouse.Fields{DisplayName: glasshouse.VisibleToFriends, Email: glasshouse.VisibleToFriends, Phone: glasshouse.VisibleToFriends, PictureURL: glasshouse.VisibleToFriends}},
		{"AllMe", glasshouse.Fields{DisplayName: glasshouse.VisibleToMe, Email: glasshouse.VisibleToMe, Phone: glasshouse.VisibleToMe, PictureURL: glasshouse.VisibleToMe}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := s.UpdateProfile(ctx, b.ID, glasshouse.ProfileUpdate{Visibility: &tt.visibility})
			must(t, err)
			friends, err := s.Friends(ctx, a.ID)
			must(t, err)
			if len(friends) != 1 {
				t.Fatalf("Friends(alice) = %v, want [bob]", handles(friends))
			}
			got, want := friends[0], b.SeenBy(a.ID, true)
			if got.ID != want.ID || got.Handle != want.Handle || got.DisplayName != want.DisplayName ||
				got.Email != want.Email || got.Phone != want.Phone || got.PictureURL != want.PictureURL {
				t.Errorf("Friends(alice) shows bob as\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func testPing(t *testing.T, s glasshouse.Store) {
	must(t, s.Ping(t.Context()))
}

// testNoHiddenFields checks that every method showing other members to a
// viewer keeps to their visibility: a field visible to "me" reaches nobody
// else, one visible to "friends" reaches friends only.
func testNoHiddenFields(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave", "erin", "frank")
	full := make(map[int64]*glasshouse.Member)
	for i, m := range ms {
		m, err := s.UpdateProfile(ctx, m.ID, glasshouse.ProfileUpdate{Phone: ptr("+1 555 0100"), PictureURL: ptr("https://example.org/" + m.Handle + ".png")})
		must(t, err)
		ms[i], full[m.ID] = m, m
	}
	a, b, c, d, e := ms[0], ms[1], ms[2], ms[3], ms[4]
	MustFriends(t, s, b, a, e) // alice and erin are not friends
	mustRequest(t, s, c, a)
	toDave := mustRequest(t, s, a, d)
	must(t, s.Block(ctx, a.ID, "frank"))
	g := MustGroup(t, s, b, a, e)
	MustDirect(t, s, a, b)

	check := func(where string, got *glasshouse.Member) {
		t.Helper()
		m, ok := full[got.ID]
		if !ok || got.ID == a.ID {
			return
		}
		friend, err := s.AreFriends(ctx, a.ID, m.ID)
		must(t, err)
		want := m.SeenBy(a.ID, friend)
		for _, f := range []struct{ name, got, allowed string }{
			{"display name", got.DisplayName, want.DisplayName},
			{"email", got.Email, want.Email},
			{"phone", got.Phone, want.Phone},
			{"picture", got.PictureURL, want.PictureURL},
		} {
			if f.got != "" && f.got != f.allowed {
				t.Errorf("%s shows alice the %s of %s (friend: %v): %q", where, f.name, m.Handle, friend, f.got)
			}
		}
	}
	check("RequestFriend", toDave.To)
	reqs, err := s.FriendRequests(ctx, a.ID)
	must(t, err)
	for _, r := range append(reqs.Incoming, reqs.Outgoing...) {
		check("FriendRequests", r.From)
		check("FriendRequests", r.To)
	}
	friends, err := s.Friends(ctx, a.ID)
	must(t, err)
	blocked, err := s.Blocked(ctx, a.ID)
	must(t, err)
	conv := mustConversation(t, s, a, g.ID)
	convs, err := s.Conversations(ctx, a.ID)
	must(t, err)
	for where, list := range map[string][]*glasshouse.Member{"Friends": friends, "Blocked": blocked, "Conversation": conv.Members} {
		for _, m := range list {
			check(where, m)
		}
	}
	for _, cv := range convs {
		for _, m := range cv.Members {
			check("Conversations", m)
		}
	}
}
