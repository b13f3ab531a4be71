package portal

import (
	"net/http"
	"slices"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/ui"
)

// operatorOnly calls h for a signed-in operator. Anyone else, signed in or
// not, gets the answer of a path that does not exist, before any form is
// read: the operator pages do not tell that they exist.
func (p *Portal) operatorOnly(h func(http.ResponseWriter, *http.Request, *glasshouse.Member)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, m, err := p.kit.Session(r)
		if code := glasshouse.ErrorCode(err); code == glasshouse.EUNAUTHORIZED || code == glasshouse.ENOTFOUND {
			p.kit.NotFound(w, r)
			return
		} else if err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		ok, err := p.store.IsOperator(r.Context(), m.ID)
		if err != nil {
			p.kit.Fail(w, r, err)
			return
		} else if !ok {
			p.kit.NotFound(w, r)
			return
		}
		h(w, r, m)
	})
}

// partnerRow is one partner on the operator page.
type partnerRow struct {
	*glasshouse.Partner
	Current  *glasshouse.Agreement // the newest approved version; nil if none
	Pending  *glasshouse.Agreement // the newest version while it waits for approval
	Added    []string              // scopes Pending asks for that Current has not
	Dropped  []string              // scopes of Current that Pending gives up
	Accesses glasshouse.AccessTotals
}

// adminData is the operator page's.
type adminData struct {
	Partners []partnerRow // oldest first
	Waiting  []partnerRow // the partners with a version waiting for approval
}

// admin serves GET /admin.
func (p *Portal) admin(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.showAdmin(w, r, m, http.StatusOK, &ui.Page{Flash: flashes[r.URL.Query().Get("done")]})
}

// showAdmin renders the operator page with status and pg's messages.
func (p *Portal) showAdmin(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, status int, pg *ui.Page) {
	d, err := p.adminData(r)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	pg.Section, pg.Member, pg.Data = "admin", m, d
	p.render(w, r, "admin", status, pg)
}

func (p *Portal) adminData(r *http.Request) (*adminData, error) {
	ctx := r.Context()
	partners, err := p.store.Partners(ctx)
	if err != nil {
		return nil, err
	}
	d := &adminData{Partners: []partnerRow{}}
	for _, partner := range partners {
		row := partnerRow{Partner: partner}
		versions, err := p.store.Agreements(ctx, partner.ID)
		if err != nil {
			return nil, err
		}
		if versions[0].ApprovedAt.IsZero() {
			row.Pending = versions[0]
		}
		if i := slices.IndexFunc(versions, func(a *glasshouse.Agreement) bool { return !a.ApprovedAt.IsZero() }); i >= 0 {
			row.Current = versions[i]
		}
		if row.Pending != nil && row.Current != nil {
			row.Added = missing(row.Pending.Scopes, row.Current.Scopes)
			row.Dropped = missing(row.Current.Scopes, row.Pending.Scopes)
		}
		if row.Accesses, err = p.store.PartnerAccessTotals(ctx, partner.ID); err != nil {
			return nil, err
		}
		d.Partners = append(d.Partners, row)
		if row.Pending != nil {
			d.Waiting = append(d.Waiting, row)
		}
	}
	return d, nil
}

// rowField names, in a page's Errors, the message next to the button of
// one action on one partner.
func rowField(action, clientID string) string { return action + ":" + clientID }

// rowError returns the page's message next to the buttons of the actions
// on one partner, or "".
func rowError(pg *ui.Page, clientID string, actions ...string) string {
	for _, a := range actions {
		if msg := pg.Errors[rowField(a, clientID)]; msg != "" {
			return msg
		}
	}
	return ""
}

// missing returns the scopes of a that b lacks, in a's order.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// adminActions are the changes an operator can make to a partner, each
// through the same store method as its `glasshouse partner` command, so
// that both follow one set of rules (approval of messages.read needs a
// recent security assessment: PartnerStore.ApproveAgreement checks it).
var adminActions = map[string]struct {
	run  func(p *Portal, r *http.Request, clientID string) error
	done string
}{
	"approve": {func(p *Portal, r *http.Request, clientID string) error {
		_, err := p.store.ApproveAgreement(r.Context(), clientID, p.now())
		return err
	}, "approved"},
	"suspend": {func(p *Portal, r *http.Request, clientID string) error {
		_, err := p.store.SetPartnerStatus(r.Context(), clientID, glasshouse.PartnerSuspended)
		return err
	}, "suspended"},
	"resume": {func(p *Portal, r *http.Request, clientID string) error {
		_, err := p.store.SetPartnerStatus(r.Context(), clientID, glasshouse.PartnerApproved)
		return err
	}, "resumed"},
}

// adminAction serves POST /admin/partners/{client}/{action}. A refusal is
// shown next to that partner's buttons, with the status of its code.
func (p *Portal) adminAction(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	action, ok := adminActions[r.PathValue("action")]
	if !ok {
		p.kit.NotFound(w, r)
		return
	}
	if err := p.kit.ParseForm(w, r); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	clientID := r.PathValue("client")
	err := action.run(p, r, clientID)
	switch code := glasshouse.ErrorCode(err); code {
	case "":
		p.log.InfoContext(r.Context(), "operator action", "action", r.PathValue("action"), "client_id", clientID, "operator", m.Handle)
		ui.Redirect(w, r, "/admin?done="+action.done)
	case glasshouse.EINTERNAL, glasshouse.EUNAVAILABLE:
		p.kit.Fail(w, r, err)
	default:
		// Next to the button, unless the page no longer shows it: no such
		// partner, or no version waiting for approval.
		field := rowField(r.PathValue("action"), clientID)
		if code == glasshouse.ENOTFOUND || (code == glasshouse.ECONFLICT && r.PathValue("action") == "approve") {
			field = ""
		}
		p.showAdmin(w, r, m, httpio.Status(code), &ui.Page{Errors: map[string]string{field: glasshouse.ErrorMessage(err)}})
	}
}
