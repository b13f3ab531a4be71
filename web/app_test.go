package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// connectApp registers an approved partner and gives m's consent to it with
// scopes, as the consent page would, plus a live access token carrying them.
func connectApp(t *testing.T, ts *testServer, m *member, scopes ...string) (*glasshouse.Partner, *glasshouse.Token) {
	t.Helper()
	ctx, now := t.Context(), time.Now()
	p, err := ts.Store.CreatePartner(ctx, glasshouse.NewPartner{Name: "Shopzon", RedirectURIs: []string{"https://shopzon.example/cb"},
		Scopes: []string{"profile", "email", "friends"}, Purpose: "Order confirmations", RetentionDays: 30, ExpiresAt: now.AddDate(1, 0, 0)},
		"client-"+m.Handle, []byte("secret hash of 32 bytes........."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.ApproveAgreement(ctx, p.ClientID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.SaveGrant(ctx, glasshouse.Grant{MemberID: m.ID, PartnerID: p.ID, AgreementVersion: 1, Scopes: scopes,
		GrantedAt: now, ConfirmedAt: now, ExpiresAt: now.Add(24 * time.Hour)}, m.Handle+"-x@relay.example"); err != nil {
		t.Fatal(err)
	}
	tok := &glasshouse.Token{ID: "at-" + m.Handle, Kind: glasshouse.AccessToken, FamilyID: "f-" + m.Handle, PartnerID: p.ID, ClientID: p.ClientID,
		MemberID: m.ID, Subject: "sub", Scopes: append([]string{"openid"}, scopes...), CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if err := ts.Store.CreateTokens(ctx, tok, nil, "", now); err != nil {
		t.Fatal(err)
	}
	return p, tok
}

func TestConnectedApps(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	p, tok := connectApp(t, ts, alice, "profile", "email")
	base := fmt.Sprintf("/api/v1/me/apps/%d", p.ID)

	var apps []struct {
		PartnerID    int64     `json:"partner_id"`
		PartnerName  string    `json:"partner_name"`
		Scopes       []string  `json:"scopes"`
		RelayEnabled bool      `json:"relay_enabled"`
		ExpiresAt    time.Time `json:"expires_at"`
		Live         bool      `json:"live"`
	}
	ts.Do(t, alice.Token, "GET", "/api/v1/me/apps", nil).MustStatus(t, http.StatusOK).Decode(t, &apps)
	if len(apps) != 1 || apps[0].PartnerName != "Shopzon" || !apps[0].Live || !apps[0].RelayEnabled || !slices.Equal(apps[0].Scopes, []string{"profile", "email"}) {
		t.Fatalf("apps %+v", apps)
	}
	first := apps[0].ExpiresAt

	// Bad input and other members change nothing.
	ts.MustWriteNothing(t, func() {
		ts.Do(t, alice.Token, "DELETE", base+"/scopes/inbox", nil).MustError(t, 400, glasshouse.EINVALID)
		ts.Do(t, alice.Token, "PUT", base+"/relay", map[string]any{}).MustError(t, 400, glasshouse.EINVALID)
		ts.Do(t, alice.Token, "DELETE", "/api/v1/me/apps/abc", nil).MustError(t, 400, glasshouse.EINVALID)
		ts.Do(t, bob.Token, "DELETE", base, nil).MustError(t, 404, glasshouse.ENOTFOUND)
		ts.Do(t, "", "DELETE", base, nil).MustError(t, 401, glasshouse.EUNAUTHORIZED)
	})

	// Withdrawing one scope kills the tokens that carry it, at once.
	ts.Do(t, alice.Token, "DELETE", base+"/scopes/email", nil).MustStatus(t, http.StatusNoContent)
	if got, err := ts.Store.Token(t.Context(), tok.ID); err != nil || got.RevokedAt.IsZero() {
		t.Fatalf("token after the scope was withdrawn: %+v, %v", got, err)
	}
	ts.Do(t, alice.Token, "PUT", base+"/relay", map[string]bool{"enabled": false}).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "POST", base+"/reconfirm", nil).MustStatus(t, http.StatusOK)
	ts.Do(t, alice.Token, "GET", "/api/v1/me/apps", nil).MustStatus(t, http.StatusOK).Decode(t, &apps)
	if !slices.Equal(apps[0].Scopes, []string{"profile"}) || apps[0].RelayEnabled || !apps[0].ExpiresAt.After(first.Add(80*24*time.Hour)) {
		t.Fatalf("after withdraw, relay off and reconfirm: %+v", apps[0])
	}

	// Revoking the app ends the consent.
	ts.Do(t, alice.Token, "DELETE", base, nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "GET", "/api/v1/me/apps", nil).MustStatus(t, http.StatusOK).Decode(t, &apps)
	if len(apps) != 0 {
		t.Fatalf("apps after revoking: %+v", apps)
	}
	ts.Do(t, alice.Token, "DELETE", base, nil).MustError(t, 404, glasshouse.ENOTFOUND)
}
