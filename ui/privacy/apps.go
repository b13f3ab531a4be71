package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ui"
)

// historyPage is how many events the history table shows at once.
const historyPage = 100

// appCard is one connected app on the overview.
type appCard struct {
	Grant     *glasshouse.Grant
	Live      bool
	Agreement *glasshouse.Agreement // the partner's current agreement; nil if none is approved
	Usage     usage
	// Relay: the app gets the relay address for the email scope, or the
	// member cut the relay off; RealEmail: the app gets the real address.
	Relay, RealEmail bool
}

// pastApp is a partner the member disconnected whose accesses stay on
// record.
type pastApp struct {
	PartnerID int64
	Name      string
	Usage     usage
}

type overviewData struct {
	Apps  []appCard
	Past  []pastApp
	Trail *trail // nil without Config.MemberKey
}

// flashes are the confirmations a change redirects to, by ?done=.
var flashes = map[string]string{
	"revoked":     "The app is disconnected. Its tokens stopped working at once; its next request will be denied.",
	"scope":       "The scope is withdrawn. Tokens carrying it stopped working at once.",
	"relay-off":   "The relay address is cut off: mail the app sends to it no longer reaches you.",
	"relay-on":    "The relay address is on again.",
	"reconfirmed": "Your consent is renewed.",
}

func (pc *Center) overview(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.renderOverview(w, r, m, http.StatusOK, nil)
}

// renderOverview renders the overview, with field errors when a change was
// refused.
func (pc *Center) renderOverview(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, status int, errs map[string]string) {
	data, err := pc.overviewData(r.Context(), m.ID)
	if err == nil {
		data.Trail, err = pc.trail(r, m.ID)
	}
	if err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	p := &ui.Page{Member: m, Errors: errs, Data: data}
	if status == http.StatusOK {
		p.Flash = flashes[r.URL.Query().Get("done")]
	}
	pc.render(w, r, "privacy", status, p)
}

func (pc *Center) overviewData(ctx context.Context, memberID int64) (*overviewData, error) {
	grants, err := pc.store.Grants(ctx, memberID)
	if err != nil {
		return nil, err
	}
	uses, err := pc.usages(ctx, memberID)
	if err != nil {
		return nil, err
	}
	now := pc.now()
	data := &overviewData{}
	for _, g := range grants {
		email := slices.Contains(g.Scopes, glasshouse.ScopeEmail)
		card := appCard{Grant: g, Live: g.Live(now), RealEmail: email && g.RealEmail,
			Relay: g.RelayEmail != "" && (email && !g.RealEmail || !g.RelayEnabled)}
		if u := uses[g.PartnerID]; u != nil {
			card.Usage = *u
			delete(uses, g.PartnerID)
		}
		a, err := pc.store.CurrentAgreement(ctx, g.PartnerID)
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return nil, err
		}
		card.Agreement = a
		data.Apps = append(data.Apps, card)
	}
	// The rest were disconnected (or refused before any consent).
	for _, u := range uses {
		name, err := pc.partnerName(ctx, u.ClientID)
		if err != nil {
			return nil, err
		}
		data.Past = append(data.Past, pastApp{PartnerID: u.PartnerID, Name: name, Usage: *u})
	}
	slices.SortFunc(data.Past, func(a, b pastApp) int { return b.Usage.Last.Compare(a.Usage.Last) })
	return data, nil
}

// partnerName returns a partner's name, or its client id if it is gone.
func (pc *Center) partnerName(ctx context.Context, clientID string) (string, error) {
	p, err := pc.store.PartnerByClientID(ctx, clientID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return clientID, nil
	} else if err != nil {
		return "", err
	}
	return p.Name, nil
}

// appData is the history page of one app.
type appData struct {
	PartnerID int64
	Name      string
	ClientID  string
	Grant     *glasshouse.Grant // nil once disconnected
	Live      bool
	Count     int // accesses in all
	Denied    int
	Chart     chart
	Events    []*glasshouse.AccessRecord // newest first: one page of the table
	Newer     string                     // the URL of the newer page; "" on the first
	Older     string                     // the URL of the older page; "" on the last
	// Witnesses are the cosignature verifier keys (note form) of the
	// log's witnesses, as JSON, and Quorum how many must have cosigned a
	// checkpoint for the browser to accept it; "" and 0 without witnesses.
	Witnesses string
	Quorum    int
}

func (pc *Center) app(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	data, err := pc.appData(r, m.ID)
	if err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	if wp := pc.c.Witnesses; wp != nil {
		keys := make([]string, len(wp.Witnesses))
		for i, w := range wp.Witnesses {
			keys[i] = w.VerifierKey
		}
		b, _ := json.Marshal(keys)
		data.Witnesses, data.Quorum = string(b), wp.Quorum
	}
	pc.render(w, r, "app", http.StatusOK, &ui.Page{Member: m, Data: data})
}

// appData reads one app's history: ENOTFOUND when the member neither
// granted the partner anything nor had an access by it, which is also what
// another member's app looks like.
func (pc *Center) appData(r *http.Request, memberID int64) (*appData, error) {
	ctx := r.Context()
	id, err := partnerID(r)
	if err != nil {
		return nil, err
	}
	before, err := beforeCounter(r.URL.Query())
	if err != nil {
		return nil, err
	}
	g, err := pc.store.Grant(ctx, memberID, id)
	if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
		return nil, err
	}
	recs, err := pc.partnerAccess(ctx, memberID, id)
	if err != nil {
		return nil, err
	}
	if g == nil && len(recs) == 0 {
		return nil, glasshouse.Errorf(glasshouse.ENOTFOUND, "You have not connected this app, and it has no access on record for you.")
	}
	now := pc.now()
	d := &appData{PartnerID: id, Grant: g, Count: len(recs), Chart: newChart(recs, now)}
	for _, rec := range recs {
		if !rec.Granted {
			d.Denied++
		}
	}
	if len(recs) > 0 {
		d.ClientID = recs[0].ClientID
	}
	if g != nil {
		d.Name, d.Live = g.PartnerName, g.Live(now)
	} else if d.Name, err = pc.partnerName(ctx, d.ClientID); err != nil {
		return nil, err
	}

	// The page of the table: newest first, counters below before.
	start := 0
	if before > 0 {
		start = slices.IndexFunc(recs, func(rec *glasshouse.AccessRecord) bool { return rec.Counter < before })
		if start < 0 {
			start = len(recs)
		}
	}
	end := min(start+historyPage, len(recs))
	d.Events = recs[start:end]
	base := fmt.Sprintf("/privacy/apps/%d", id)
	if start > 0 {
		d.Newer = base
		if newer := start - historyPage; newer > 0 {
			d.Newer += "?before=" + strconv.FormatUint(recs[newer-1].Counter, 10)
		}
	}
	if end < len(recs) {
		d.Older = base + "?before=" + strconv.FormatUint(recs[end-1].Counter, 10)
	}
	return d, nil
}

// beforeCounter reads ?before=, the counter the table's page starts below;
// 0 when absent.
func beforeCounter(q url.Values) (uint64, error) {
	s := q.Get("before")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "The page of the history (before=) must be a positive number.")
	}
	return n, nil
}

func (pc *Center) revokeApp(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.change(w, r, m, func(ctx context.Context, partner int64) (string, map[string]string, error) {
		return "revoked", nil, pc.store.RevokeGrant(ctx, m.ID, partner)
	})
}

func (pc *Center) revokeScope(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.change(w, r, m, func(ctx context.Context, partner int64) (string, map[string]string, error) {
		scope := r.PostFormValue("scope")
		if !slices.Contains(glasshouse.DataScopes, scope) {
			return "", fieldError("scope", partner, "Pick one of the scopes listed for this app."), nil
		}
		return "scope", nil, pc.store.RevokeScope(ctx, m.ID, partner, scope)
	})
}

func (pc *Center) setRelay(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.change(w, r, m, func(ctx context.Context, partner int64) (string, map[string]string, error) {
		switch r.PostFormValue("relay") {
		case "off":
			return "relay-off", nil, pc.store.SetRelayEnabled(ctx, m.ID, partner, false)
		case "on":
			return "relay-on", nil, pc.store.SetRelayEnabled(ctx, m.ID, partner, true)
		}
		return "", fieldError("relay", partner, "Choose whether to turn the relay address off or on."), nil
	})
}

// reconfirmApp renews a consent for another GrantLifetime, never past the
// partner's current agreement, as the JSON API does (web/app.go).
func (pc *Center) reconfirmApp(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.change(w, r, m, func(ctx context.Context, partner int64) (string, map[string]string, error) {
		g, err := pc.store.Grant(ctx, m.ID, partner)
		if err != nil {
			return "", nil, err
		}
		a, err := pc.store.CurrentAgreement(ctx, partner)
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			return "", nil, glasshouse.Errorf(glasshouse.ECONFLICT, "This app has no approved agreement to consent to.")
		} else if err != nil {
			return "", nil, err
		}
		now := pc.now()
		g.ConfirmedAt, g.ExpiresAt = now, now.Add(glasshouse.GrantLifetime)
		if a.ExpiresAt.Before(g.ExpiresAt) {
			g.ExpiresAt = a.ExpiresAt
		}
		if !g.ExpiresAt.After(now) {
			return "", nil, glasshouse.Errorf(glasshouse.ECONFLICT, "This app's agreement has expired; there is nothing to confirm.")
		}
		_, err = pc.store.SaveGrant(ctx, *g, g.RelayEmail)
		return "reconfirmed", nil, err
	})
}

// fieldError is the error of one app's form on the overview.
func fieldError(kind string, partner int64, msg string) map[string]string {
	return map[string]string{fmt.Sprintf("%s-%d", kind, partner): msg}
}

// change runs one of the overview's forms on the {partner} app: it checks
// the CSRF token, then calls fn, which returns the flash to redirect to, or
// field errors (nothing changed) to show the overview again with, or an
// error (a store's ENOTFOUND for an app the member has not connected).
func (pc *Center) change(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, fn func(ctx context.Context, partner int64) (done string, errs map[string]string, err error)) {
	if err := pc.kit.ParseForm(w, r); err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	partner, err := partnerID(r)
	if err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	done, errs, err := fn(r.Context(), partner)
	if err != nil {
		pc.kit.Fail(w, r, err)
		return
	} else if errs != nil {
		pc.renderOverview(w, r, m, http.StatusBadRequest, errs)
		return
	}
	ui.Redirect(w, r, fmt.Sprintf("/privacy?done=%s#app-%d", done, partner))
}
