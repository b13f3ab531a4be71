package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// adminRoutes are requests to every /admin route, and to paths and
// methods around them.
var adminRoutes = []struct{ method, path string }{
	{"GET", "/admin"},
	{"HEAD", "/admin"},
	{"POST", "/admin"},
	{"DELETE", "/admin"},
	{"GET", "/admin/"},
	{"GET", "/admin/partners"},
	{"POST", "/admin/partners/%s/approve"},
	{"POST", "/admin/partners/%s/suspend"},
	{"POST", "/admin/partners/%s/resume"},
	{"GET", "/admin/partners/%s/approve"},
	{"PUT", "/admin/partners/%s/suspend"},
	{"POST", "/admin/partners/%s/delete"},
	{"POST", "/admin/partners/no-such-partner/approve"},
}

func TestAdminHiddenFromOthers(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", false, glasshouse.ScopeProfile)
	for _, who := range []struct {
		name   string
		client *client
	}{
		{"signed out", s.NewClient(t)},
		{"member", s.MustMember(t, "mallory", false)},
	} {
		// What a path that does not exist answers this visitor, on the
		// same server: the 404 page, as signed in as they are.
		absent := who.client.Get("/no-such-page").MustStatus(http.StatusNotFound).MustContain("Page not found")
		for _, rt := range adminRoutes {
			path := strings.ReplaceAll(rt.path, "%s", sf.ClientID)
			t.Run(who.name+" "+rt.method+" "+path, func(t *testing.T) {
				var form url.Values
				if rt.method == "POST" || rt.method == "PUT" {
					form = url.Values{"csrf": {who.client.CSRF}}
				}
				p := who.client.Do(rt.method, path, form)
				if p.Status != http.StatusNotFound || p.Header.Get("Content-Type") != absent.Header.Get("Content-Type") ||
					(rt.method != "HEAD" && p.Body != absent.Body) {
					t.Errorf("status %d, %s, %q; want what an absent page gets: %d, %s, %q",
						p.Status, p.Header.Get("Content-Type"), p.Body, absent.Status, absent.Header.Get("Content-Type"), absent.Body)
				}
			})
		}
		who.client.Get("/developers").MustNotContain(`href="/admin"`)
	}
	if a, _ := s.Store.LatestAgreement(context.Background(), sf.ID); !a.ApprovedAt.IsZero() {
		t.Error("a non-operator approved the agreement")
	}
}

func TestAdminPage(t *testing.T) {
	s := MustSite(t)
	op := s.MustMember(t, "olga", true)
	pending := s.MustPartner(t, "Streamflix", false, glasshouse.ScopeMessagesSend)
	live := s.MustPartner(t, "Shopzon", true, glasshouse.ScopeProfile)
	// Shopzon proposes a second version that adds a scope and drops one.
	v1, _ := s.Store.CurrentAgreement(context.Background(), live.ID)
	v2 := *v1
	v2.Scopes = []string{glasshouse.ScopeEmail}
	if _, err := s.Store.ProposeAgreement(context.Background(), live.ID, v2); err != nil {
		t.Fatal(err)
	}
	p := op.Get("/admin").MustStatus(http.StatusOK)
	p.MustContain(`href="/admin" aria-current="page"`, // the nav shows operators the page
		"Waiting for approval <span class=\"badge\">2</span>",
		"Streamflix, version 1", "Shopzon, version 2", "Adds email", "Drops profile",
		`action="/admin/partners/`+pending.ClientID+`/approve"`, `action="/admin/partners/`+live.ClientID+`/approve"`,
		`action="/admin/partners/`+live.ClientID+`/suspend"`, "Approve its agreement first")
	p.MustNotContain(`action="/admin/partners/` + pending.ClientID + `/suspend"`)
}

func TestAdminActions(t *testing.T) {
	s := MustSite(t)
	op := s.MustMember(t, "olga", true)
	sf := s.MustPartner(t, "Streamflix", false, glasshouse.ScopeMessagesSend)
	ctx := context.Background()
	status := func(want string) {
		t.Helper()
		p, err := s.Store.PartnerByClientID(ctx, sf.ClientID)
		if err != nil || p.Status != want {
			t.Fatalf("status %v (%v); want %s", p, err, want)
		}
	}
	// Without the CSRF token, nothing changes.
	op.Do(http.MethodPost, "/admin/partners/"+sf.ClientID+"/approve", url.Values{}).MustStatus(http.StatusForbidden)
	status(glasshouse.PartnerPending)

	op.Post("/admin/partners/"+sf.ClientID+"/approve", nil).MustRedirect("/admin?done=approved")
	op.Get("/admin?done=approved").MustContain("Agreement approved.", "No agreement waits for approval.")
	status(glasshouse.PartnerApproved)
	if a, err := s.Store.CurrentAgreement(ctx, sf.ID); err != nil || a.Version != 1 {
		t.Fatalf("current agreement %v, %v; want version 1", a, err)
	}

	op.Post("/admin/partners/"+sf.ClientID+"/suspend", nil).MustRedirect("/admin?done=suspended")
	status(glasshouse.PartnerSuspended)
	op.Get("/admin").MustContain(`action="/admin/partners/` + sf.ClientID + `/resume"`)
	op.Post("/admin/partners/"+sf.ClientID+"/resume", nil).MustRedirect("/admin?done=resumed")
	status(glasshouse.PartnerApproved)

	// An operator whose rights are withdrawn sees nothing at once.
	if err := s.Store.SetOperator(ctx, op.me.ID, false); err != nil {
		t.Fatal(err)
	}
	op.Post("/admin/partners/"+sf.ClientID+"/suspend", nil).MustStatus(http.StatusNotFound)
	status(glasshouse.PartnerApproved)
}

func TestAdminRefusals(t *testing.T) {
	s := MustSite(t)
	op := s.MustMember(t, "olga", true)
	reader := s.MustPartner(t, "Inboxer", false, glasshouse.ScopeMessagesRead) // no security assessment
	live := s.MustPartner(t, "Shopzon", true, glasshouse.ScopeProfile)
	pending := s.MustPartner(t, "Searchly", false, glasshouse.ScopeFriends)
	for _, tc := range []struct {
		name, path string
		status     int
		errID      string // the id of the message next to the button; "" for the page's
		msg        string
	}{
		{"messages.read without assessment", "/admin/partners/" + reader.ClientID + "/approve", http.StatusForbidden,
			"err-approve-" + reader.ClientID, "The agreement asks for messages.read, which needs a security assessment at most 12 months old."},
		{"approved twice", "/admin/partners/" + live.ClientID + "/approve", http.StatusConflict,
			"", "Version 1 of the agreement of Shopzon is already approved."},
		{"resume without agreement", "/admin/partners/" + pending.ClientID + "/resume", http.StatusConflict,
			"err-" + pending.ClientID, "Searchly has no approved agreement to resume under."},
		{"unknown partner", "/admin/partners/nobody/suspend", http.StatusNotFound, "", "Partner not found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := op.Post(tc.path, nil).MustStatus(tc.status)
			if tc.errID == "" {
				p.MustFormError(tc.msg)
			} else {
				p.MustContain(`id="` + tc.errID + `" role="alert">` + html.EscapeString(tc.msg) + "<")
			}
			p.MustContain("Partners and agreements") // the page, again
		})
	}
	// Nothing changed.
	for _, p := range []*testPartner{reader, pending} {
		if a, _ := s.Store.LatestAgreement(context.Background(), p.ID); !a.ApprovedAt.IsZero() {
			t.Errorf("%s: agreement approved", p.Name)
		}
	}
	// Once assessed, the same button works: the rule is the store's.
	a, _ := s.Store.LatestAgreement(context.Background(), reader.ID)
	a.SecurityAssessedAt = time.Now().AddDate(0, -1, 0)
	if _, err := s.Store.ProposeAgreement(context.Background(), reader.ID, *a); err != nil {
		t.Fatal(err)
	}
	op.Post("/admin/partners/"+reader.ClientID+"/approve", nil).MustRedirect("/admin?done=approved")
}
