package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var oauthTests = []test{
	{"AuthRequest", testAuthRequest},
	{"AuthRequestDefaults", testAuthRequestDefaults},
	{"AuthRequestExpiry", testAuthRequestExpiry},
	{"AuthRequestIDTaken", testAuthRequestIDTaken},
	{"CompleteAuthRequest", testCompleteAuthRequest},
	{"CompleteAuthRequestErrors", testCompleteAuthRequestErrors},
	{"SaveAuthCode", testSaveAuthCode},
	{"SaveAuthCodeErrors", testSaveAuthCodeErrors},
	{"AuthCodeSingleUse", testAuthCodeSingleUse},
	{"AuthCodeReuseRevokesTokens", testAuthCodeReuseRevokesTokens},
	{"AuthCodeExpiry", testAuthCodeExpiry},
	{"AuthCodeConcurrent", testAuthCodeConcurrent},
	{"AuthRequestByCode", testAuthRequestByCode},
	{"Tokens", testTokens},
	{"TokenNotFound", testTokenNotFound},
	{"AccessByTokenID", testAccessByTokenID},
	{"TokenIDTaken", testTokenIDTaken},
	{"RefreshRotation", testRefreshRotation},
	{"RefreshReplay", testRefreshReplay},
	{"RefreshSpentInvalid", testRefreshSpentInvalid},
	{"RotationStaysInFamily", testRotationStaysInFamily},
	{"RefreshConcurrent", testRefreshConcurrent},
	{"RevokeToken", testRevokeToken},
	{"Secret", testSecret},
	{"SecretGenerateError", testSecretGenerateError},
	{"SecretConcurrent", testSecretConcurrent},
}

// authStart is when the suite's authorization requests start and
// tokenStart when its tokens are issued. Both are far from the real clock,
// so a store that ignores the now parameter fails.
var (
	authStart  = time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)
	tokenStart = time.Date(2031, 3, 4, 6, 0, 0, 0, time.UTC)
)

// newAuthRequest returns a request of p's, made at authStart.
func newAuthRequest(p *glasshouse.Partner, id string) *glasshouse.AuthRequest {
	maxAge := 5 * time.Minute
	return &glasshouse.AuthRequest{ID: id, ClientID: p.ClientID, RedirectURI: p.RedirectURIs[0], State: "state-" + id,
		Nonce: "nonce-" + id, ResponseType: "code", ResponseMode: "query", CodeChallenge: "challenge-" + id,
		CodeChallengeMethod: "S256", RequestedScopes: []string{glasshouse.ScopeProfile, glasshouse.ScopeOpenID, glasshouse.ScopeOffline},
		Prompt: []string{"login", "consent"}, MaxAge: &maxAge, LoginHint: "alice",
		CreatedAt: authStart, ExpiresAt: authStart.Add(glasshouse.AuthRequestLifetime)}
}

// mustAuthRequest stores a request of p's that m completed, granting scopes.
func mustAuthRequest(t *testing.T, s glasshouse.Store, p *glasshouse.Partner, m *glasshouse.Member, id string, scopes ...string) *glasshouse.AuthRequest {
	t.Helper()
	r := newAuthRequest(p, id)
	must(t, s.CreateAuthRequest(t.Context(), r))
	must(t, s.CompleteAuthRequest(t.Context(), id, m.ID, authStart.Add(time.Minute), scopes))
	return r
}

// mustAuthCode stores a completed request with the code "code-"+id, valid
// for glasshouse.AuthCodeLifetime from authStart plus two minutes, and
// returns the code's hash.
func mustAuthCode(t *testing.T, s glasshouse.Store, p *glasshouse.Partner, m *glasshouse.Member, id string) []byte {
	t.Helper()
	mustAuthRequest(t, s, p, m, id, glasshouse.ScopeOpenID, glasshouse.ScopeProfile)
	hash := tokenHash("code-" + id)
	must(t, s.SaveAuthCode(t.Context(), id, hash, codeIssued.Add(glasshouse.AuthCodeLifetime)))
	return hash
}

// codeIssued is when mustAuthCode's codes are issued.
var codeIssued = authStart.Add(2 * time.Minute)

// newTokens returns the access token "at-"+id and the refresh token
// "rt-"+id of family for m at p, issued at tokenStart.
func newTokens(m *glasshouse.Member, p *glasshouse.Partner, family, id string, scopes ...string) (access, refresh *glasshouse.Token) {
	base := glasshouse.Token{FamilyID: family, AuthRequestID: "req-" + family, PartnerID: p.ID, ClientID: p.ClientID,
		MemberID: m.ID, Subject: "sub-" + m.Handle, Scopes: scopes, AuthTime: authStart, CreatedAt: tokenStart}
	a, r := base, base
	a.ID, a.Kind, a.ExpiresAt = "at-"+id, glasshouse.AccessToken, tokenStart.Add(glasshouse.AccessTokenLifetime)
	r.ID, r.Kind, r.ExpiresAt = "rt-"+id, glasshouse.RefreshToken, tokenStart.Add(glasshouse.RefreshTokenLifetime)
	r.SecretHash = tokenHash("value of rt-" + id)
	return &a, &r
}

// mustTokens issues the tokens "at-"+family and "rt-"+family of a new
// family for m at p.
func mustTokens(t *testing.T, s glasshouse.Store, m *glasshouse.Member, p *glasshouse.Partner, family string, scopes ...string) (access, refresh *glasshouse.Token) {
	t.Helper()
	access, refresh = newTokens(m, p, family, family, scopes...)
	if err := s.CreateTokens(t.Context(), access, refresh, "", tokenStart); err != nil {
		t.Fatalf("CreateTokens(family %s): %v", family, err)
	}
	return access, refresh
}

// mustRotate exchanges the refresh token spent for "at-"+id and "rt-"+id of
// the same family at now.
func mustRotate(t *testing.T, s glasshouse.Store, spent *glasshouse.Token, id string, now time.Time) (access, refresh *glasshouse.Token) {
	t.Helper()
	access, refresh = rotation(spent, id)
	if err := s.CreateTokens(t.Context(), access, refresh, spent.ID, now); err != nil {
		t.Fatalf("CreateTokens(rotating %s): %v", spent.ID, err)
	}
	return access, refresh
}

// rotation returns the tokens "at-"+id and "rt-"+id that replace spent.
func rotation(spent *glasshouse.Token, id string) (access, refresh *glasshouse.Token) {
	a, r := *spent, *spent
	a.ID, a.Kind, a.ExpiresAt, a.AuthRequestID, a.SecretHash = "at-"+id, glasshouse.AccessToken, spent.CreatedAt.Add(glasshouse.AccessTokenLifetime), "", nil
	r.ID, r.AuthRequestID, r.UsedAt = "rt-"+id, "", time.Time{}
	r.SecretHash = tokenHash("value of rt-" + id)
	return &a, &r
}

// refreshHash is the hash RefreshTokenByHash finds tok by.
func refreshHash(tok *glasshouse.Token) []byte { return tok.SecretHash }

// wantRevoked checks which tokens are revoked, by id.
func wantRevoked(t *testing.T, s glasshouse.Store, revoked map[string]bool) {
	t.Helper()
	for id, want := range revoked {
		tok, err := s.Token(t.Context(), id)
		if err != nil {
			t.Errorf("Token(%s): %v", id, err)
		} else if got := !tok.RevokedAt.IsZero(); got != want {
			t.Errorf("Token(%s).RevokedAt = %v; want revoked %v", id, tok.RevokedAt, want)
		}
	}
}

// wantAbsent checks that tokens were never stored.
func wantAbsent(t *testing.T, s glasshouse.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := s.Token(t.Context(), id)
		wantCode(t, err, glasshouse.ENOTFOUND, "Token("+id+")")
	}
}

// oauthWorld is a member and an approved partner.
func oauthWorld(t *testing.T, s glasshouse.Store) (*glasshouse.Member, *glasshouse.Partner) {
	t.Helper()
	return MustMember(t, s, "alice"), everyScope(t, s, "streamflix")
}

func testAuthRequest(t *testing.T, s glasshouse.Store) {
	_, p := oauthWorld(t, s)
	r := newAuthRequest(p, "req-1")
	want := *r
	must(t, s.CreateAuthRequest(t.Context(), r))
	got, err := s.AuthRequest(t.Context(), "req-1", authStart)
	must(t, err)
	if d := diff(got, &want); d != "" {
		t.Errorf("AuthRequest (requested scopes in the order asked): %s", d)
	}

	bare := &glasshouse.AuthRequest{ID: "req-2", ClientID: p.ClientID, CreatedAt: authStart, ExpiresAt: authStart.Add(time.Minute)}
	must(t, s.CreateAuthRequest(t.Context(), bare))
	got, err = s.AuthRequest(t.Context(), "req-2", authStart)
	must(t, err)
	if got.MaxAge != nil || len(got.Prompt) != 0 || len(got.RequestedScopes) != 0 || got.Done || got.MemberID != 0 || got.CodeHash != nil {
		t.Errorf("AuthRequest of a bare request = %+v, want no max age, prompt, scopes, member or code", got)
	}
}

func testAuthRequestDefaults(t *testing.T, s glasshouse.Store) {
	_, p := oauthWorld(t, s)
	r := newAuthRequest(p, "req-1")
	r.CreatedAt, r.ExpiresAt = time.Time{}, time.Time{}
	must(t, s.CreateAuthRequest(t.Context(), r))
	if r.CreatedAt.IsZero() || r.ExpiresAt.Sub(r.CreatedAt) != glasshouse.AuthRequestLifetime {
		t.Fatalf("CreateAuthRequest set CreatedAt %v and ExpiresAt %v; want now and %v later", r.CreatedAt, r.ExpiresAt, glasshouse.AuthRequestLifetime)
	}
	got, err := s.AuthRequest(t.Context(), "req-1", r.CreatedAt)
	must(t, err)
	if !got.CreatedAt.Equal(r.CreatedAt) || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Errorf("AuthRequest = created %v, expires %v; want %v, %v", got.CreatedAt, got.ExpiresAt, r.CreatedAt, r.ExpiresAt)
	}
}

func testAuthRequestExpiry(t *testing.T, s glasshouse.Store) {
	_, p := oauthWorld(t, s)
	r := newAuthRequest(p, "req-1")
	must(t, s.CreateAuthRequest(t.Context(), r))
	for _, tt := range []struct {
		name  string
		id    string
		now   time.Time
		found bool
	}{
		{"AtCreation", "req-1", r.CreatedAt, true},
		{"SecondBeforeExpiry", "req-1", r.ExpiresAt.Add(-time.Second), true},
		{"AtExpiry", "req-1", r.ExpiresAt, false},
		{"DayAfter", "req-1", r.ExpiresAt.Add(24 * time.Hour), false},
		{"Unknown", "req-2", r.CreatedAt, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AuthRequest(t.Context(), tt.id, tt.now)
			if tt.found {
				must(t, err)
			} else {
				wantCode(t, err, glasshouse.ENOTFOUND, "AuthRequest")
			}
		})
	}
}

func testAuthRequestIDTaken(t *testing.T, s glasshouse.Store) {
	_, p := oauthWorld(t, s)
	must(t, s.CreateAuthRequest(t.Context(), newAuthRequest(p, "req-1")))
	again := newAuthRequest(p, "req-1")
	again.State = "other"
	wantCode(t, s.CreateAuthRequest(t.Context(), again), glasshouse.ECONFLICT, "CreateAuthRequest with a taken id")
	got, err := s.AuthRequest(t.Context(), "req-1", authStart)
	must(t, err)
	if got.State != "state-req-1" {
		t.Errorf("AuthRequest.State = %q after a refused duplicate, want state-req-1", got.State)
	}
}

func testCompleteAuthRequest(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	r := newAuthRequest(p, "req-1")
	must(t, s.CreateAuthRequest(t.Context(), r))
	authTime := authStart.Add(time.Minute)
	must(t, s.CompleteAuthRequest(t.Context(), "req-1", a.ID, authTime,
		[]string{glasshouse.ScopeMessagesSend, glasshouse.ScopeOpenID, glasshouse.ScopeProfile}))
	got, err := s.AuthRequest(t.Context(), "req-1", authStart)
	must(t, err)
	want := *r
	want.MemberID, want.AuthTime, want.Done = a.ID, authTime, true
	want.GrantedScopes = []string{glasshouse.ScopeOpenID, glasshouse.ScopeProfile, glasshouse.ScopeMessagesSend}
	if d := diff(got, &want); d != "" {
		t.Errorf("AuthRequest after CompleteAuthRequest (granted scopes in canonical order): %s", d)
	}
}

func testCompleteAuthRequestErrors(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	must(t, s.CreateAuthRequest(ctx, newAuthRequest(p, "open")))
	mustAuthCode(t, s, p, a, "coded")
	for _, tt := range []struct {
		name     string
		id       string
		memberID int64
		code     string
	}{
		{"UnknownRequest", "nope", a.ID, glasshouse.ENOTFOUND},
		{"UnknownMember", "open", a.ID + 1000, glasshouse.ENOTFOUND},
		{"CodeIssued", "coded", a.ID, glasshouse.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CompleteAuthRequest(ctx, tt.id, tt.memberID, authStart, []string{glasshouse.ScopeOpenID})
			wantCode(t, err, tt.code, "CompleteAuthRequest")
		})
	}
	if r, err := s.AuthRequest(ctx, "open", authStart); err != nil || r.Done || r.MemberID != 0 {
		t.Errorf("AuthRequest(open) = %+v, %v; want it untouched by the refused completion", r, err)
	}
}

func testSaveAuthCode(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	mustAuthRequest(t, s, p, a, "req-1", glasshouse.ScopeOpenID)
	expires := codeIssued.Add(glasshouse.AuthCodeLifetime)
	must(t, s.SaveAuthCode(t.Context(), "req-1", tokenHash("code"), expires))
	got, err := s.AuthRequest(t.Context(), "req-1", authStart)
	must(t, err)
	if string(got.CodeHash) != string(tokenHash("code")) || !got.CodeExpiresAt.Equal(expires) || !got.CodeUsedAt.IsZero() {
		t.Errorf("AuthRequest after SaveAuthCode = code %x expiring %v used %v; want %x expiring %v, unused",
			got.CodeHash, got.CodeExpiresAt, got.CodeUsedAt, tokenHash("code"), expires)
	}
}

func testSaveAuthCodeErrors(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	must(t, s.CreateAuthRequest(ctx, newAuthRequest(p, "open")))
	mustAuthRequest(t, s, p, a, "done", glasshouse.ScopeOpenID)
	taken := mustAuthCode(t, s, p, a, "coded")
	expires := codeIssued.Add(glasshouse.AuthCodeLifetime)
	for _, tt := range []struct {
		name string
		id   string
		hash []byte
		code string
	}{
		{"UnknownRequest", "nope", tokenHash("c1"), glasshouse.ENOTFOUND},
		{"NotCompleted", "open", tokenHash("c2"), glasshouse.ECONFLICT},
		{"SecondCode", "coded", tokenHash("c3"), glasshouse.ECONFLICT},
		{"HashOfAnotherRequest", "done", taken, glasshouse.ECONFLICT},
		{"EmptyHash", "done", nil, glasshouse.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, s.SaveAuthCode(ctx, tt.id, tt.hash, expires), tt.code, "SaveAuthCode")
		})
	}
	r, err := s.ConsumeAuthCode(ctx, taken, codeIssued)
	if err != nil || r.ID != "coded" {
		t.Errorf("ConsumeAuthCode(first code) = %+v, %v; want request coded", r, err)
	}
}

func testAuthCodeSingleUse(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	hash := mustAuthCode(t, s, p, a, "req-1")
	now := codeIssued.Add(time.Second)
	r, err := s.ConsumeAuthCode(ctx, hash, now)
	must(t, err)
	if r.ID != "req-1" || r.MemberID != a.ID || !r.Done || !r.CodeUsedAt.Equal(now) || r.CodeChallenge != "challenge-req-1" {
		t.Errorf("ConsumeAuthCode = %+v; want request req-1 of alice, done, used at %v", r, now)
	}
	_, err = s.ConsumeAuthCode(ctx, hash, now.Add(time.Second))
	wantCode(t, err, glasshouse.ECONFLICT, "ConsumeAuthCode of a used code")
}

func testAuthCodeReuseRevokesTokens(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	// newTokens names the request of family f "req-"+f.
	used, other := mustAuthCode(t, s, p, a, "req-f1"), mustAuthCode(t, s, p, a, "req-f2")
	for _, h := range [][]byte{used, other} {
		_, err := s.ConsumeAuthCode(ctx, h, codeIssued)
		must(t, err)
	}
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOpenID, glasshouse.ScopeOffline)
	mustRotate(t, s, r1, "f1-2", tokenStart.Add(time.Hour)) // rotated tokens name no request
	mustTokens(t, s, a, p, "f2", glasshouse.ScopeOpenID, glasshouse.ScopeOffline)

	_, err := s.ConsumeAuthCode(ctx, used, codeIssued.Add(time.Second))
	wantCode(t, err, glasshouse.ECONFLICT, "ConsumeAuthCode replayed")
	wantRevoked(t, s, map[string]bool{"at-f1": true, "rt-f1": true, "at-f1-2": true, "rt-f1-2": true, "at-f2": false, "rt-f2": false})
}

func testAuthCodeExpiry(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	hash := mustAuthCode(t, s, p, a, "req-1")
	expires := codeIssued.Add(glasshouse.AuthCodeLifetime)
	for _, now := range []time.Time{expires, expires.Add(time.Hour)} {
		_, err := s.ConsumeAuthCode(ctx, hash, now)
		wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("ConsumeAuthCode %v after expiry", now.Sub(expires)))
	}
	_, err := s.ConsumeAuthCode(ctx, tokenHash("unknown"), codeIssued)
	wantCode(t, err, glasshouse.ENOTFOUND, "ConsumeAuthCode of an unknown code")
	// The refused attempts did not use the code up.
	r, err := s.ConsumeAuthCode(ctx, hash, expires.Add(-time.Microsecond))
	if err != nil || r.ID != "req-1" {
		t.Errorf("ConsumeAuthCode just before expiry = %+v, %v; want request req-1", r, err)
	}
}

// testAuthRequestByCode looks codes up without using them: an unused
// code's request while it is valid, a used code's request always (so that
// its replay can be refused), nothing for an unknown or expired code.
func testAuthRequestByCode(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	hash := mustAuthCode(t, s, p, a, "req-1")
	expires := codeIssued.Add(glasshouse.AuthCodeLifetime)
	for range 2 {
		r, err := s.AuthRequestByCode(ctx, hash, codeIssued)
		if err != nil || r.ID != "req-1" || r.MemberID != a.ID || !r.CodeUsedAt.IsZero() || r.CodeChallenge != "challenge-req-1" {
			t.Fatalf("AuthRequestByCode = %+v, %v; want request req-1 of alice, unused", r, err)
		}
	}
	_, err := s.AuthRequestByCode(ctx, hash, expires)
	wantCode(t, err, glasshouse.ENOTFOUND, "AuthRequestByCode of an expired code")
	_, err = s.AuthRequestByCode(ctx, tokenHash("unknown"), codeIssued)
	wantCode(t, err, glasshouse.ENOTFOUND, "AuthRequestByCode of an unknown code")
	// The look-ups did not use the code.
	used := codeIssued.Add(time.Second)
	_, err = s.ConsumeAuthCode(ctx, hash, used)
	must(t, err)
	r, err := s.AuthRequestByCode(ctx, hash, expires.Add(time.Hour))
	if err != nil || r.ID != "req-1" || !r.CodeUsedAt.Equal(used) {
		t.Errorf("AuthRequestByCode of a used code = %+v, %v; want request req-1 used at %v", r, err, used)
	}
}

func testAuthCodeConcurrent(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	hash := mustAuthCode(t, s, p, a, "req-1")
	errs := concurrently(16, func(int) error {
		_, err := s.ConsumeAuthCode(t.Context(), hash, codeIssued)
		return err
	})
	wantOneWinner(t, "ConsumeAuthCode", errs)
}

// concurrently runs fn(0), …, fn(n-1) at once and returns their errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner checks that exactly one of errs is nil and the others are
// ECONFLICT.
func wantOneWinner(t *testing.T, call string, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantCode(t, err, glasshouse.ECONFLICT, call+" racing")
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent %s calls succeeded, want exactly 1", wins, len(errs), call)
	}
}

func testTokens(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	access, refresh := newTokens(a, p, "f1", "f1", glasshouse.ScopeMessagesSend, glasshouse.ScopeOffline, glasshouse.ScopeOpenID)
	must(t, s.CreateTokens(ctx, access, refresh, "", tokenStart))
	canonical := []string{glasshouse.ScopeOpenID, glasshouse.ScopeOffline, glasshouse.ScopeMessagesSend}
	for _, want := range []*glasshouse.Token{access, refresh} {
		want.Scopes = canonical
		got, err := s.Token(ctx, want.ID)
		must(t, err)
		if d := diff(got, want); d != "" {
			t.Errorf("Token(%s) (scopes in canonical order): %s", want.ID, d)
		}
	}
	got, err := s.RefreshTokenByHash(ctx, refreshHash(refresh))
	must(t, err)
	if d := diff(got, refresh); d != "" {
		t.Errorf("RefreshTokenByHash: %s", d)
	}
	got, err = s.TokenBySubject(ctx, p.ClientID, access.Subject)
	if err != nil || got.MemberID != a.ID || got.ClientID != p.ClientID {
		t.Errorf("TokenBySubject = %+v, %v; want a token of alice at %s", got, err, p.ClientID)
	}
	_, err = s.TokenBySubject(ctx, p.ClientID, "someone else")
	wantCode(t, err, glasshouse.ENOTFOUND, "TokenBySubject of an unknown subject")
	_, err = s.TokenBySubject(ctx, "another client", access.Subject)
	wantCode(t, err, glasshouse.ENOTFOUND, "TokenBySubject of another client")

	// Without a refresh token, and with CreatedAt left to the store.
	lone, _ := newTokens(a, p, "f2", "f2", glasshouse.ScopeProfile)
	lone.CreatedAt = time.Time{}
	must(t, s.CreateTokens(ctx, lone, nil, "", tokenStart.Add(time.Minute)))
	got, err = s.Token(ctx, "at-f2")
	must(t, err)
	if !got.CreatedAt.Equal(tokenStart.Add(time.Minute)) || !lone.CreatedAt.Equal(got.CreatedAt) {
		t.Errorf("token created without CreatedAt: stored %v, set %v; want the now parameter %v", got.CreatedAt, lone.CreatedAt, tokenStart.Add(time.Minute))
	}
	wantAbsent(t, s, "rt-f2")
}

// wantAccess checks AccessByTokenID(id) against what Token,
// PartnerByClientID, CurrentAgreement and Grant return, with a nil
// Agreement or Grant where those find none.
func wantAccess(t *testing.T, s glasshouse.Store, id string) *glasshouse.TokenAccess {
	t.Helper()
	ctx := t.Context()
	got, err := s.AccessByTokenID(ctx, id)
	if err != nil {
		t.Fatalf("AccessByTokenID(%s): %v", id, err)
	}
	want := &glasshouse.TokenAccess{}
	if want.Token, err = s.Token(ctx, id); err != nil {
		t.Fatal(err)
	}
	if want.Partner, err = s.PartnerByClientID(ctx, want.Token.ClientID); err != nil {
		t.Fatal(err)
	}
	if want.Agreement, err = s.CurrentAgreement(ctx, want.Partner.ID); glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		want.Agreement = nil
	} else if err != nil {
		t.Fatal(err)
	}
	if want.Grant, err = s.Grant(ctx, want.Token.MemberID, want.Partner.ID); glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		want.Grant = nil
	} else if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("AccessByTokenID(%s): %s", id, d)
	}
	return got
}

func testAccessByTokenID(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	b := MustMember(t, s, "bob")
	g := newGrant(a, p, glasshouse.ScopeMessagesRead, glasshouse.ScopeFriends)
	g.Conversations = []int64{MustGroup(t, s, a, b).ID, MustDirect(t, s, a, b).ID}
	mustSaveGrant(t, s, g, relayEmail(a, p))
	_, err := s.ProposeAgreement(ctx, p.ID, glasshouse.Agreement{Scopes: []string{glasshouse.ScopeFriends},
		Purpose: "Only friends from now on.", ExpiresAt: agreementEnd}) // version 2, unapproved
	must(t, err)
	mustTokens(t, s, a, p, "f1", glasshouse.ScopeFriends, glasshouse.ScopeOpenID)

	got := wantAccess(t, s, "at-f1")
	if got.Agreement == nil || got.Agreement.Version != 1 || got.Grant == nil || len(got.Grant.Conversations) != 2 ||
		len(got.Partner.RedirectURIs) != 2 {
		t.Fatalf("AccessByTokenID(at-f1) = %+v; want agreement version 1 and the grant with two conversations", got)
	}
	wantAccess(t, s, "rt-f1")

	// Without a grant (its tokens are revoked with it), and for a
	// partner without an approved agreement.
	must(t, s.RevokeGrant(ctx, a.ID, p.ID))
	if got := wantAccess(t, s, "at-f1"); got.Grant != nil || got.Token.RevokedAt.IsZero() {
		t.Errorf("AccessByTokenID after RevokeGrant = %+v; want no grant, token revoked", got)
	}
	pending := mustCreatePartner(t, s, newPartner("pending", glasshouse.ScopeFriends))
	mustTokens(t, s, a, pending, "f2", glasshouse.ScopeFriends)
	if got := wantAccess(t, s, "at-f2"); got.Agreement != nil || got.Grant != nil || got.Partner.Status != glasshouse.PartnerPending {
		t.Errorf("AccessByTokenID(pending partner) = %+v; want no agreement, no grant", got)
	}

	_, err = s.AccessByTokenID(ctx, "nope")
	wantCode(t, err, glasshouse.ENOTFOUND, "AccessByTokenID(unknown)")
}

func testTokenNotFound(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	access, _ := mustTokens(t, s, a, p, "f1", glasshouse.ScopeProfile)
	_, err := s.Token(ctx, "nope")
	wantCode(t, err, glasshouse.ENOTFOUND, "Token(unknown)")
	_, err = s.RefreshTokenByHash(ctx, tokenHash("nope"))
	wantCode(t, err, glasshouse.ENOTFOUND, "RefreshTokenByHash(unknown)")
	_, err = s.RefreshTokenByHash(ctx, refreshHash(access))
	wantCode(t, err, glasshouse.ENOTFOUND, "RefreshTokenByHash(hash of an access token's id)")
	wantCode(t, s.RevokeToken(ctx, "nope", tokenStart), glasshouse.ENOTFOUND, "RevokeToken(unknown)")
}

func testTokenIDTaken(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	mustTokens(t, s, a, p, "f1", glasshouse.ScopeProfile)
	access, refresh := newTokens(a, p, "f2", "f1", glasshouse.ScopeProfile)
	refresh.ID = "rt-fresh"
	wantCode(t, s.CreateTokens(t.Context(), access, refresh, "", tokenStart), glasshouse.ECONFLICT, "CreateTokens with a taken id")
	wantAbsent(t, s, "rt-fresh")
	if tok, err := s.Token(t.Context(), "at-f1"); err != nil || tok.FamilyID != "f1" {
		t.Errorf("Token(at-f1) = %+v, %v; want the first token, of family f1", tok, err)
	}
}

func testRefreshRotation(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOpenID, glasshouse.ScopeOffline)
	now := tokenStart.Add(time.Hour)
	a2, r2 := mustRotate(t, s, r1, "f1-2", now)
	spent, err := s.Token(ctx, r1.ID)
	must(t, err)
	if !spent.UsedAt.Equal(now) || !spent.RevokedAt.IsZero() {
		t.Errorf("spent refresh token: used %v, revoked %v; want used at %v, not revoked", spent.UsedAt, spent.RevokedAt, now)
	}
	for _, want := range []*glasshouse.Token{a2, r2} {
		got, err := s.Token(ctx, want.ID)
		must(t, err)
		if d := diff(got, want); d != "" {
			t.Errorf("Token(%s) after rotation: %s", want.ID, d)
		}
	}
	mustRotate(t, s, r2, "f1-3", now.Add(time.Hour))
	wantRevoked(t, s, map[string]bool{"at-f1": false, "rt-f1": false, "at-f1-2": false, "rt-f1-2": false, "at-f1-3": false, "rt-f1-3": false})
}

func testRefreshReplay(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOpenID, glasshouse.ScopeOffline)
	mustTokens(t, s, a, p, "f2", glasshouse.ScopeOpenID, glasshouse.ScopeOffline)
	mustRotate(t, s, r1, "f1-2", tokenStart.Add(time.Hour))

	a3, r3 := rotation(r1, "f1-3")
	err := s.CreateTokens(t.Context(), a3, r3, r1.ID, tokenStart.Add(2*time.Hour))
	wantCode(t, err, glasshouse.ECONFLICT, "CreateTokens replaying a spent refresh token")
	wantRevoked(t, s, map[string]bool{"at-f1": true, "rt-f1": true, "at-f1-2": true, "rt-f1-2": true, "at-f2": false, "rt-f2": false})
	wantAbsent(t, s, "at-f1-3", "rt-f1-3")
}

func testRefreshSpentInvalid(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	for _, tt := range []struct {
		name    string
		prepare func(access, refresh *glasshouse.Token) (spent string, now time.Time)
		code    string
		revoked bool // whether the family ends revoked
	}{
		{"Revoked", func(_, r *glasshouse.Token) (string, time.Time) {
			must(t, s.RevokeToken(ctx, r.ID, tokenStart))
			return r.ID, tokenStart.Add(time.Hour)
		}, glasshouse.ECONFLICT, true},
		{"Expired", func(_, r *glasshouse.Token) (string, time.Time) { return r.ID, r.ExpiresAt }, glasshouse.ECONFLICT, true},
		{"Unknown", func(_, r *glasshouse.Token) (string, time.Time) { return "rt-nope", tokenStart }, glasshouse.ENOTFOUND, false},
		{"AccessToken", func(at, _ *glasshouse.Token) (string, time.Time) { return at.ID, tokenStart }, glasshouse.ENOTFOUND, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			access, refresh := mustTokens(t, s, a, p, tt.name, glasshouse.ScopeOffline)
			spent, now := tt.prepare(access, refresh)
			na, nr := rotation(refresh, tt.name+"-2")
			wantCode(t, s.CreateTokens(ctx, na, nr, spent, now), tt.code, "CreateTokens")
			wantRevoked(t, s, map[string]bool{access.ID: tt.revoked, refresh.ID: tt.revoked})
			wantAbsent(t, s, na.ID, nr.ID)
		})
	}
}

func testRotationStaysInFamily(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOffline)
	na, nr := newTokens(a, p, "other", "f1-2", glasshouse.ScopeOffline)
	wantCode(t, s.CreateTokens(t.Context(), na, nr, r1.ID, tokenStart), glasshouse.EINVALID, "CreateTokens rotating into another family")
	wantAbsent(t, s, na.ID, nr.ID)
	if tok, err := s.Token(t.Context(), r1.ID); err != nil || !tok.UsedAt.IsZero() {
		t.Errorf("Token(%s) = %+v, %v; want it unused after the refused rotation", r1.ID, tok, err)
	}
	mustRotate(t, s, r1, "f1-2", tokenStart)
}

func testRefreshConcurrent(t *testing.T, s glasshouse.Store) {
	a, p := oauthWorld(t, s)
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOffline)
	errs := concurrently(16, func(i int) error {
		na, nr := rotation(r1, fmt.Sprint("f1-", i))
		return s.CreateTokens(t.Context(), na, nr, r1.ID, tokenStart.Add(time.Minute))
	})
	wantOneWinner(t, "CreateTokens rotating one refresh token", errs)
	// Every loser replayed the spent token after the winner: the family,
	// the winner's new tokens included, is revoked.
	revoked := map[string]bool{"at-f1": true, "rt-f1": true}
	for i, err := range errs {
		if err == nil {
			revoked[fmt.Sprint("at-f1-", i)], revoked[fmt.Sprint("rt-f1-", i)] = true, true
		}
	}
	wantRevoked(t, s, revoked)
}

func testRevokeToken(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, p := oauthWorld(t, s)
	_, r1 := mustTokens(t, s, a, p, "f1", glasshouse.ScopeOffline)
	mustRotate(t, s, r1, "f1-2", tokenStart.Add(time.Hour))
	mustTokens(t, s, a, p, "f2", glasshouse.ScopeOffline)

	first := tokenStart.Add(2 * time.Hour)
	must(t, s.RevokeToken(ctx, "at-f1-2", first))
	wantRevoked(t, s, map[string]bool{"at-f1": false, "rt-f1": false, "at-f1-2": true, "rt-f1-2": false})
	must(t, s.RevokeToken(ctx, "at-f1-2", first.Add(time.Hour)))
	if tok, err := s.Token(ctx, "at-f1-2"); err != nil || !tok.RevokedAt.Equal(first) {
		t.Errorf("Token(at-f1-2) = %+v, %v; want it revoked at %v, the first revocation", tok, err, first)
	}

	must(t, s.RevokeToken(ctx, "rt-f1", first)) // a spent refresh token still names its family
	wantRevoked(t, s, map[string]bool{"at-f1": true, "rt-f1": true, "at-f1-2": true, "rt-f1-2": true, "at-f2": false, "rt-f2": false})
	must(t, s.RevokeToken(ctx, "rt-f1", first))
}

func testSecret(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	got, err := s.Secret(ctx, "signing", gen("first"))
	must(t, err)
	if string(got) != "first" || calls != 1 {
		t.Errorf("Secret(signing) = %q after %d generate calls, want first after 1", got, calls)
	}
	got, err = s.Secret(ctx, "signing", gen("second"))
	must(t, err)
	if string(got) != "first" || calls != 1 {
		t.Errorf("Secret(signing) again = %q after %d generate calls, want first without generating", got, calls)
	}
	got, err = s.Secret(ctx, "cookies", gen("other"))
	must(t, err)
	if string(got) != "other" {
		t.Errorf("Secret(cookies) = %q, want other", got)
	}
}

func testSecretGenerateError(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	boom := errors.New("no entropy")
	_, err := s.Secret(ctx, "signing", func() ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Secret with a failing generate: %v, want it to wrap %v", err, boom)
	}
	got, err := s.Secret(ctx, "signing", func() ([]byte, error) { return []byte("later"), nil })
	if err != nil || string(got) != "later" {
		t.Errorf("Secret after a failed generate = %q, %v; want later", got, err)
	}
}

func testSecretConcurrent(t *testing.T, s glasshouse.Store) {
	const n = 32
	values := make([][]byte, n)
	concurrently(n, func(i int) error {
		v, err := s.Secret(t.Context(), "signing", func() ([]byte, error) { return []byte(rand.Text()), nil })
		if err != nil {
			t.Errorf("Secret (goroutine %d): %v", i, err)
		}
		values[i] = v
		return err
	})
	for i, v := range values {
		if string(v) != string(values[0]) {
			t.Fatalf("concurrent Secret calls disagree: goroutine 0 got %q, goroutine %d got %q", values[0], i, v)
		}
	}
	if got, err := s.Secret(t.Context(), "signing", func() ([]byte, error) { return []byte("late"), nil }); err != nil || string(got) != string(values[0]) {
		t.Errorf("Secret after the race = %q, %v; want %q", got, err, values[0])
	}
}
