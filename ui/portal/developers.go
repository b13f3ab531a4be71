package portal

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/ui"
)

// UsageWindow is how far back the dashboard counts a partner's accesses.
const UsageWindow = 30 * 24 * time.Hour

// ReceiptsShown is how many of its latest receipts the dashboard lists.
const ReceiptsShown = 50

// errBadCredentials is the one answer to an unknown client id and to a
// wrong secret, so that the form does not tell which client ids exist.
var errBadCredentials = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Unknown client id or wrong secret.")

// developersData is the public page's.
type developersData struct {
	Scopes  []string
	Partner *glasshouse.Partner // signed in; nil otherwise
}

// developers serves GET /developers: what partners get and on what rules,
// and the sign-in form.
func (p *Portal) developers(w http.ResponseWriter, r *http.Request) {
	pg := &ui.Page{Flash: flashes[r.URL.Query().Get("done")]}
	partner, err := p.partner(r)
	if err != nil && !errors.Is(err, errNoSession) {
		p.kit.Fail(w, r, err)
		return
	}
	p.showDevelopers(w, r, http.StatusOK, pg, partner)
}

func (p *Portal) showDevelopers(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, partner *glasshouse.Partner) {
	pg.Section, pg.Member = "developers", p.kit.Member(r)
	if partner != nil {
		pg.Partner = partner.Name
	}
	pg.Data = developersData{Scopes: glasshouse.DataScopes, Partner: partner}
	p.render(w, r, "developers", status, pg)
}

// secretField is the client-secret input: a password field that browsers
// may fill from their saved passwords, never with a generated one.
func secretField(pg *ui.Page) ui.Field {
	return ui.Field{Name: "client_secret", Label: "Client secret", Type: "password", Required: true,
		Error: pg.Errors["client_secret"], Autocomplete: "current-password"}
}

// signIn checks a client id and secret and opens a partner session. Failed
// attempts are limited per IP address; an unknown client id and a wrong
// secret get the same answer, in about the same time.
func (p *Portal) signIn(w http.ResponseWriter, r *http.Request) {
	clientID := strings.TrimSpace(r.PostForm.Get("client_id"))
	secret := strings.TrimSpace(r.PostForm.Get("client_secret"))
	show := func(status int, errs map[string]string) {
		p.showDevelopers(w, r, status, &ui.Page{Errors: errs, Form: r.PostForm}, nil)
	}
	errs := map[string]string{}
	if clientID == "" {
		errs["client_id"] = "Enter your app's client id."
	}
	if secret == "" {
		errs["client_secret"] = "Enter your client secret."
	}
	if len(errs) > 0 {
		show(http.StatusBadRequest, errs)
		return
	}
	done, ok, after := p.signIns.Attempt(clientip.Of(r))
	if !ok {
		httpio.SetRetryAfter(w.Header(), after)
		show(http.StatusTooManyRequests, map[string]string{"": "Too many failed sign-ins from this address. Wait a minute and try again."})
		return
	}
	failed := true
	defer func() { done(failed) }()
	stored, err := p.store.PartnerSecretHash(r.Context(), clientID)
	found := err == nil
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		stored = make([]byte, len(oauth.HashSecret(""))) // compare against something all the same
	} else if err != nil {
		failed = false
		p.kit.Fail(w, r, err)
		return
	}
	if match := subtle.ConstantTimeCompare(oauth.HashSecret(secret), stored) == 1; !match || !found {
		p.log.InfoContext(r.Context(), "partner sign-in refused", "ip", clientip.Of(r))
		show(http.StatusUnauthorized, map[string]string{"client_secret": glasshouse.ErrorMessage(errBadCredentials)})
		return
	}
	failed = false
	p.log.InfoContext(r.Context(), "partner signed in", "client_id", clientID, "ip", clientip.Of(r))
	if err := p.setSession(w, r, clientID, stored); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	ui.Redirect(w, r, "/developers/dashboard")
}

// signOut ends the partner's portal sessions, this one and every other
// (on the server, not only the cookie), and clears the cookie.
func (p *Portal) signOut(w http.ResponseWriter, r *http.Request) {
	partner, err := p.partner(r)
	if err == nil {
		err = p.store.EndPortalSessions(r.Context(), partner.ClientID)
	}
	if err != nil && !errors.Is(err, errNoSession) {
		p.kit.Fail(w, r, err)
		return
	}
	p.setCookie(w, r, "", -1)
	ui.Redirect(w, r, "/developers?done=signedout")
}

// dashboardData is the dashboard's.
type dashboardData struct {
	Partner  *glasshouse.Partner
	Current  *glasshouse.Agreement   // the newest approved version; nil before the first approval
	Pending  *glasshouse.Agreement   // the newest version while it waits for approval; else nil
	Versions []*glasshouse.Agreement // newest first
	Expired  bool                    // the current agreement has ended
	Expiring bool                    // it ends within 30 days
	Usage    *glasshouse.PartnerUsage
	Chart    chart
	Days     int // the window's length in days
}

// dashboard serves GET /developers/dashboard: the signed-in partner's
// agreement, scopes, usage and receipts.
func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request, partner *glasshouse.Partner) {
	ctx := r.Context()
	now := p.now().UTC()
	versions, err := p.store.Agreements(ctx, partner.ID)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	until := now.Truncate(24 * time.Hour).Add(24 * time.Hour) // the end of today
	since := until.Add(-UsageWindow)
	usage, err := p.store.PartnerUsage(ctx, partner.ID, since, until, ReceiptsShown)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	d := dashboardData{Partner: partner, Versions: versions, Usage: usage, Chart: newChart(since, until, usage.ByDay),
		Days: int(UsageWindow / (24 * time.Hour))}
	if versions[0].ApprovedAt.IsZero() {
		d.Pending = versions[0]
	}
	for _, a := range versions {
		if !a.ApprovedAt.IsZero() {
			d.Current = a
			d.Expired = !now.Before(a.ExpiresAt)
			d.Expiring = !d.Expired && a.ExpiresAt.Sub(now) < 30*24*time.Hour
			break
		}
	}
	p.render(w, r, "dashboard", http.StatusOK, &ui.Page{Section: "dashboard", Member: p.kit.Member(r), Partner: partner.Name, Data: d})
}
