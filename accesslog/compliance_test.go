package accesslog_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

func TestCompliance(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	approve := func(v uint32, at time.Time, scopes ...string) *accesslog.AgreementEntry {
		return &accesslog.AgreementEntry{EventID: accesslog.EventID{1}, Time: at, PartnerID: "streamflix", Version: v,
			Action: accesslog.Approved, Scopes: scopes, Expires: t0.Add(48 * time.Hour), TermsHash: [32]byte{1}}
	}
	status := func(action accesslog.Action, at time.Time) *accesslog.AgreementEntry {
		e := approve(2, at, "profile")
		e.Action = action
		return e
	}
	access := func(partner string, v uint32, at time.Time, d accesslog.Decision, scopes ...string) *accesslog.Entry {
		return &accesslog.Entry{EventID: accesslog.EventID{2}, Time: at.Truncate(time.Minute), PartnerID: partner,
			AgreementVersion: v, Endpoint: "GET /graph/v1/me", Scopes: scopes, Decision: d, Tag: accesslog.Tag{1}}
	}
	c := accesslog.NewCompliance()
	var index uint64
	var want []string // rules, in order
	add := func(e any, rules ...string) {
		switch e := e.(type) {
		case *accesslog.AgreementEntry:
			c.Agreement(index, e)
		case *accesslog.Entry:
			c.Access(index, e)
		}
		index++
		want = append(want, rules...)
	}
	add(access("streamflix", 1, t0, accesslog.Granted, "profile"), accesslog.RuleUnlogged) // before any approval
	add(access("streamflix", 1, t0, accesslog.Denied, "messages.read"))                    // denied: no data, no rule
	add(approve(1, t0, "messages.send", "profile"))
	add(access("streamflix", 1, t0, accesslog.Granted, "profile")) // the same minute: fine
	add(access("streamflix", 1, t0.Add(time.Minute), accesslog.Granted, "messages.read"), accesslog.RuleScope)
	add(access("streamflix", 2, t0.Add(time.Minute), accesslog.Granted, "profile"), accesslog.RuleUnlogged)
	add(approve(2, t0.Add(time.Hour), "profile"))
	add(access("streamflix", 2, t0.Add(time.Minute), accesslog.Granted, "profile"), accesslog.RuleEarly)
	add(status(accesslog.Suspended, t0.Add(2*time.Hour)))
	add(access("streamflix", 2, t0.Add(2*time.Hour), accesslog.Granted, "profile")) // within the minute of the suspension
	add(access("streamflix", 2, t0.Add(2*time.Hour+time.Minute), accesslog.Granted, "profile"), accesslog.RuleSuspended)
	add(status(accesslog.Resumed, t0.Add(3*time.Hour)))
	add(access("streamflix", 2, t0.Add(3*time.Hour+time.Minute), accesslog.Granted, "profile"))
	add(access("streamflix", 2, t0.Add(49*time.Hour), accesslog.Granted, "profile"), accesslog.RuleExpired)
	add(access("tvguide", 1, t0, accesslog.Granted, "profile"), accesslog.RuleUnlogged)

	var got []string
	for _, f := range c.Findings {
		got = append(got, f.Rule)
	}
	if !slices.Equal(got, want) {
		for _, f := range c.Findings {
			t.Log(f)
		}
		t.Fatalf("findings %v, want %v", got, want)
	}
	if c.Checked != 10 {
		t.Errorf("checked %d granted accesses, want 10", c.Checked)
	}
	h := c.Sorted()
	if len(h) != 1 || h[0].Partner != "streamflix" || len(h[0].Entries) != 4 || h[0].Suspended {
		t.Errorf("histories %+v; want streamflix's 4 entries, not suspended", h)
	}
}

func TestLoggedAgreementJSON(t *testing.T) {
	_, e := vectorAgreement()
	b, err := json.Marshal(accesslog.LoggedAgreement{Index: 7, AgreementEntry: &e})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":7,"event_id":"00112233445566778899aabbccddeeff","time":"2026-03-01T12:34:56.000000789Z","partner":"streamflix",` +
		`"agreement_version":2,"action":"approved","scopes":["profile","messages.send"],"expires":"2027-03-01T00:00:00Z","terms_hash":"` + vectorTermsHash + `"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}
