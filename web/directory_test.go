package web_test

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// TestPartnerDirectory: anyone may read the directory and the terms of an
// approved version, whose SHA-256 is the one the approval's log entry
// holds; versions never approved are not shown.
func TestPartnerDirectory(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	p, _ := connectApp(t, ts, alice, "profile")
	if _, err := ts.Store.ProposeAgreement(t.Context(), p.ID, glasshouse.Agreement{Scopes: []string{"profile"},
		Purpose: "Order confirmations, and nothing more", RetentionDays: 7, ExpiresAt: time.Now().AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}

	var dir struct {
		Partners []glasshouse.DirectoryPartner `json:"partners"`
	}
	r := ts.Do(t, "", "GET", "/api/v1/partners", nil).MustStatus(t, http.StatusOK)
	if err := json.Unmarshal(r.Body, &dir); err != nil {
		t.Fatal(err)
	}
	if len(dir.Partners) != 1 || dir.Partners[0].ClientID != p.ClientID || len(dir.Partners[0].Agreements) != 1 {
		t.Fatalf("directory %s; want the partner with its one approved version", r.Body)
	}
	a := dir.Partners[0].Agreements[0]
	if a.Version != 1 || len(a.Events) != 1 || a.Events[0].Action != glasshouse.AgreementApproved || a.Events[0].LogIndex != nil {
		t.Errorf("version %+v; want version 1, approved, not yet in the log (no feeder here)", a)
	}

	doc := ts.Do(t, "", "GET", a.TermsURL, nil).MustStatus(t, http.StatusOK)
	pending, err := ts.Store.PendingEntries(t.Context(), 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("outbox: %d rows, %v; want the approval's", len(pending), err)
	}
	entry, err := accesslog.DecodeAny(pending[0].Entry)
	if err != nil || entry.Agreement == nil {
		t.Fatalf("outbox row: %+v, %v", entry, err)
	}
	if sha256.Sum256(doc.Body) != entry.Agreement.TermsHash || doc.Header.Get("Content-Type") != "application/json" {
		t.Errorf("terms %s (%s) do not hash as the approval entry holds", doc.Body, doc.Header.Get("Content-Type"))
	}

	for path, want := range map[string]struct {
		status int
		code   string
	}{
		"/api/v1/partners/" + p.ClientID + "/agreements/2/terms":  {http.StatusNotFound, glasshouse.ENOTFOUND}, // proposed, not approved
		"/api/v1/partners/nobody/agreements/1/terms":              {http.StatusNotFound, glasshouse.ENOTFOUND},
		"/api/v1/partners/" + p.ClientID + "/agreements/01/terms": {http.StatusBadRequest, glasshouse.EINVALID},
		"/api/v1/partners/" + p.ClientID + "/agreements/0/terms":  {http.StatusBadRequest, glasshouse.EINVALID},
	} {
		ts.Do(t, "", "GET", path, nil).MustError(t, want.status, want.code)
	}
}
