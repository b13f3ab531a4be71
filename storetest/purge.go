package storetest

import (
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var purgeTests = []test{
	{"Purge", testPurge},
}

// testPurge: only what expired more than PurgeAfter ago goes, and a token
// family goes whole, once its last token expired.
func testPurge(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	p := mustPartner(t, s, newPartner("streamflix", glasshouse.ScopeMessagesSend))
	m := MustMember(t, s, "alice")
	sess := mustSession(t, s, m, "session token")
	req := mustAuthRequest(t, s, p, m, "req-1", glasshouse.ScopeMessagesSend)
	access, refresh := mustTokens(t, s, m, p, "f1", glasshouse.ScopeMessagesSend)

	// Soon after they expire, nothing goes yet.
	if n, err := s.Purge(ctx, tokenStart.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("Purge within a day of expiry: %d rows, %v; want none", n, err)
	}
	if _, err := s.AuthRequest(ctx, req.ID, authStart); err != nil {
		t.Errorf("auth request purged too early: %v", err)
	}
	// A day after the request and the access token expired, the request
	// goes, but the access token stays with its family's live refresh token.
	if _, err := s.Purge(ctx, tokenStart.Add(glasshouse.PurgeAfter+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthRequest(ctx, req.ID, authStart); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
		t.Errorf("expired auth request still there: %v", err)
	}
	if _, err := s.Token(ctx, access.ID); err != nil {
		t.Errorf("access token purged while its family's refresh token lives: %v", err)
	}

	// A day after everything expired, all of it is gone.
	later := refresh.ExpiresAt
	if sess.ExpiresAt.After(later) {
		later = sess.ExpiresAt
	}
	later = later.Add(glasshouse.PurgeAfter + time.Minute)
	if _, err := s.Purge(ctx, later); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{access.ID, refresh.ID} {
		if _, err := s.Token(ctx, id); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Errorf("token %s after purge: %v", id, err)
		}
	}
	if _, err := s.SessionByTokenHash(ctx, sess.TokenHash, sessionStart); glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
		t.Errorf("session after purge: %v", err)
	}
	// The member and partner are untouched.
	if _, err := s.MemberByID(ctx, m.ID); err != nil {
		t.Error(err)
	}
}
