package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/sqlite"
	"golang.org/x/oauth2"
)

// TestAuditCatchesSecretAgreement: the operator widens a partner's
// agreement with SQL, around the code that logs agreement changes, as a
// secret deal would. The log then holds only the public, narrower
// agreement, and `audit report` flags every access that the secret one
// enabled, and no other, and sees that the served terms are not the
// logged ones.
func TestAuditCatchesSecretAgreement(t *testing.T) {
	m := MustRunMain(t)
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "profile", "--purpose", "Show your name in the app", "--retention", "30")
	w := newTestWorld(t, m.URL())
	aliceTok, bobTok := w.member("alice"), w.member("bob")
	w.befriend(aliceTok, bobTok, "bob")

	// The secret deal: friends, in the database only.
	db, reader, err := sqlite.OpenDB(context.Background(), filepath.Join(m.Config.Data, "glasshouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer reader.Close()
	if _, err := db.Exec(`INSERT INTO agreement_scopes (partner_id, version, scope)
		SELECT id, 1, 'friends' FROM partners WHERE client_id = ?`, creds.ClientID); err != nil {
		t.Fatal(err)
	}

	app := newPartnerApp(t, m.URL(), creds.ClientID, creds.ClientSecret, redirect, "profile", "friends")
	bobToken, _ := app.authorize(consentOf("bob", "bob-bench-password", []string{"profile", "friends"}))
	aliceToken, _ := app.authorize(consentOf("alice", "alice-bench-password", []string{"profile", "friends"}))
	var enabled, public []accesslog.EventID // what the secret deal enabled; what the public agreement allows
	for _, tok := range []*oauth2.Token{aliceToken, bobToken} {
		enabled = append(enabled, mustReceipt(t, app, tok, "/graph/v1/me/friends"))
		public = append(public, mustReceipt(t, app, tok, "/graph/v1/me"))
	}
	waitForLog(t, m, uint64(1+len(enabled)+len(public)))

	out, err := runCLI(t, "audit", "report", m.URL(), "--state", filepath.Join(t.TempDir(), "state.json"))
	if err == nil || !strings.Contains(err.Error(), "2 granted accesses were outside the agreements") {
		t.Fatalf("audit report: %v; want it to fail on 2 accesses\n%s", err, out)
	}
	for _, want := range []string{
		creds.ClientID + " v1 approved", "ACCESS OUTSIDE THE LOGGED AGREEMENTS: 2 granted accesses",
		"TERMS: " + creds.ClientID + " v1: the served terms hash to",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit report lacks %q:\n%s", want, out)
		}
	}
	var flagged []accesslog.EventID
	for _, line := range strings.Split(out, "\n") {
		for _, id := range slices.Concat(enabled, public) {
			if strings.Contains(line, id.String()) && strings.Contains(line, accesslog.RuleScope) {
				flagged = append(flagged, id)
			}
		}
	}
	slices.SortFunc(flagged, func(a, b accesslog.EventID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(enabled, func(a, b accesslog.EventID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(flagged, enabled) {
		t.Errorf("flagged %v; want exactly the friends reads %v\n%s", flagged, enabled, out)
	}
}

// mustReceipt makes a granted Graph API GET and returns its receipt's
// event id.
func mustReceipt(t *testing.T, app *partnerApp, tok *oauth2.Token, path string) accesslog.EventID {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.base+path, nil)
	resp, err := app.oauth.Client(context.Background(), tok).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	header := resp.Header.Get(accesslog.ReceiptHeader)
	i := strings.IndexByte(header, '.')
	j := strings.IndexByte(header[i+1:], '.')
	id, err := accesslog.ParseEventID(header[i+1 : i+1+j])
	if err != nil {
		t.Fatalf("receipt %q: %v", header, err)
	}
	return id
}

// TestAgreementChangedAroundServerIsLogged: an agreement version approved
// in the database, around the server, is not secret for long: the next
// feeder to start logs it (as it does every minute), and the directory
// shows its log index.
func TestAgreementChangedAroundServerIsLogged(t *testing.T) {
	data := t.TempDir()
	m := runMainOn(t, data)
	creds := mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Streamflix", "--redirect-uri", "https://partner.example/callback",
		"--scopes", "profile", "--purpose", "Show your name in the app", "--retention", "30")
	db, reader, err := sqlite.OpenDB(context.Background(), filepath.Join(m.Config.Data, "glasshouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer reader.Close()
	for _, q := range []string{
		`INSERT INTO agreements (partner_id, version, purpose, retention_days, expires_at, approved_at, created_at)
			SELECT partner_id, 2, purpose, retention_days, expires_at, created_at + 1, created_at + 1 FROM agreements WHERE partner_id = (SELECT id FROM partners WHERE client_id = ?1)`,
		`INSERT INTO agreement_scopes (partner_id, version, scope) SELECT id, 2, 'friends' FROM partners WHERE client_id = ?1`,
	} {
		if _, err := db.Exec(q, creds.ClientID); err != nil {
			t.Fatal(err)
		}
	}
	waitForLog(t, m, 1)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = runMainOn(t, data)
	defer m.Close()
	waitForLog(t, m, 2)
	var dir struct {
		Partners []glasshouse.DirectoryPartner `json:"partners"`
	}
	newTestWorld(t, m.URL()).do("", "GET", "/api/v1/partners", nil, &dir)
	if len(dir.Partners) != 1 || len(dir.Partners[0].Agreements) != 2 {
		t.Fatalf("directory %+v; want the partner with both versions", dir)
	}
	v2 := dir.Partners[0].Agreements[0]
	if v2.Version != 2 || len(v2.Events) != 1 || v2.Events[0].Action != glasshouse.AgreementApproved || v2.Events[0].LogIndex == nil || *v2.Events[0].LogIndex != 1 {
		t.Errorf("version 2 in the directory: %+v; want its approval logged at index 1", v2)
	}
}

// runMainOn starts a server on the data folder; the caller closes it.
func runMainOn(t *testing.T, data string) *Main {
	t.Helper()
	m := NewMain()
	m.Config.Addr, m.Config.Data, m.Config.LogLevel, m.Stdout = "127.0.0.1:0", data, "warn", io.Discard
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}
