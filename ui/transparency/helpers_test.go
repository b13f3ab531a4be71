package transparency_test

import (
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/ui/transparency"
)

// site is the log's machine routes and its page on one real server
// (package sitetest, with its log), and one member, alice.
type site struct {
	*sitetest.Site
	Member *glasshouse.Member
}

func MustSite(tb testing.TB) *site {
	tb.Helper()
	ss := sitetest.New(tb, func(o *sitetest.Options) { o.Log = true })
	l := ss.Log
	page := transparency.New(transparency.Config{Kit: ss.Kit, Log: l.Feeder.Log(), VerifierKey: l.Key.VerifierKey, Partners: ss.Store})
	ss.Start(page.Mount, l.Handler().Register)
	alice, _ := ss.MustMember(tb, "alice", "")
	return &site{Site: ss, Member: alice}
}

// MustPartner registers and approves a partner.
func (s *site) MustPartner(tb testing.TB, name, clientID string, scopes ...string) *glasshouse.Partner {
	tb.Helper()
	return s.Site.MustPartner(tb, glasshouse.NewPartner{Name: name, Scopes: scopes, Purpose: "Testing the log page."}, clientID, []byte("secret hash"), true)
}

// MustRecord records one Graph API access by p for the member, as the
// Graph API does.
func (s *site) MustRecord(tb testing.TB, p *glasshouse.Partner, at time.Time, endpoint string, granted bool, scopes ...string) {
	tb.Helper()
	s.Log.MustRecord(tb, s.Member.ID, p, at, endpoint, granted, scopes...)
}
