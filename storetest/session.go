package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var sessionTests = []test{
	{"Create", testCreateSession},
	{"Expiry", testSessionExpiry},
	{"Delete", testDeleteSession},
	{"DeleteMemberSessions", testDeleteMemberSessions},
}

// sessionStart is when the suite's sessions start; they last 30 days. It is
// far from the real clock, so a store that ignores the now parameter fails.
var sessionStart = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// tokenHash returns the hash of a made-up token.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// mustSession creates a 30-day session for m whose token is token.
func mustSession(t *testing.T, s glasshouse.Store, m *glasshouse.Member, token string) *glasshouse.Session {
	t.Helper()
	sess := &glasshouse.Session{TokenHash: tokenHash(token), MemberID: m.ID, CreatedAt: sessionStart, ExpiresAt: sessionStart.Add(30 * 24 * time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", m.Handle, err)
	}
	return sess
}

// wantSessions checks which sessions are still valid during their lifetime.
func wantSessions(t *testing.T, s glasshouse.Store, valid map[*glasshouse.Session]bool) {
	t.Helper()
	for sess, ok := range valid {
		_, err := s.SessionByTokenHash(t.Context(), sess.TokenHash, sessionStart.Add(time.Hour))
		if ok && err != nil {
			t.Errorf("session %x of member %d: %v, want it valid", sess.TokenHash[:4], sess.MemberID, err)
		} else if !ok {
			wantCode(t, err, glasshouse.EUNAUTHORIZED, "SessionByTokenHash of an ended session")
		}
	}
}

func testCreateSession(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	want := mustSession(t, s, a, "a1")
	mustSession(t, s, a, "a2")
	got, err := s.SessionByTokenHash(t.Context(), tokenHash("a1"), sessionStart)
	must(t, err)
	if string(got.TokenHash) != string(want.TokenHash) || got.MemberID != a.ID ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("SessionByTokenHash = %+v, want %+v", *got, *want)
	}
	_, err = s.SessionByTokenHash(t.Context(), tokenHash("unknown"), sessionStart)
	wantCode(t, err, glasshouse.EUNAUTHORIZED, "SessionByTokenHash(unknown)")
}

func testSessionExpiry(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	sess := mustSession(t, s, a, "a1")
	for _, tt := range []struct {
		name  string
		now   time.Time
		valid bool
	}{
		{"AtCreation", sess.CreatedAt, true},
		{"SecondBeforeExpiry", sess.ExpiresAt.Add(-time.Second), true},
		{"SecondAfterExpiry", sess.ExpiresAt.Add(time.Second), false},
		{"YearAfterExpiry", sess.ExpiresAt.AddDate(1, 0, 0), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SessionByTokenHash(t.Context(), sess.TokenHash, tt.now)
			if tt.valid && err != nil {
				t.Errorf("SessionByTokenHash(now = %v): %v, want the session (it expires %v)", tt.now, err, sess.ExpiresAt)
			} else if !tt.valid {
				wantCode(t, err, glasshouse.EUNAUTHORIZED, "SessionByTokenHash after expiry")
			}
		})
	}
}

func testDeleteSession(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	a1, a2 := mustSession(t, s, a, "a1"), mustSession(t, s, a, "a2")
	must(t, s.DeleteSession(t.Context(), a1.TokenHash))
	wantSessions(t, s, map[*glasshouse.Session]bool{a1: false, a2: true})
	if err := s.DeleteSession(t.Context(), a1.TokenHash); err != nil {
		t.Errorf("DeleteSession of a deleted session: %v, want nil", err)
	}
	if err := s.DeleteSession(t.Context(), tokenHash("never")); err != nil {
		t.Errorf("DeleteSession of an unknown session: %v, want nil", err)
	}
}

func testDeleteMemberSessions(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	b := MustMember(t, s, "bob")
	a1, a2 := mustSession(t, s, a, "a1"), mustSession(t, s, a, "a2")
	b1 := mustSession(t, s, b, "b1")
	must(t, s.DeleteMemberSessions(t.Context(), a.ID))
	wantSessions(t, s, map[*glasshouse.Session]bool{a1: false, a2: false, b1: true})
	must(t, s.DeleteMemberSessions(t.Context(), a.ID))
}
