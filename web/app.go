package web

import (
	"net/http"
	"slices"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// The member's side of consent: the apps they connected, and withdrawing,
// narrowing or renewing what each may do. Every change takes effect on the
// partner's next request: the store revokes the affected tokens in the same
// transaction.

// appView is one connected app as its member sees it.
type appView struct {
	*glasshouse.Grant
	Live bool `json:"live"` // false once the consent expired
}

func (s *Server) apps(w http.ResponseWriter, r *http.Request, c caller) error {
	grants, err := s.store.Grants(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	now := s.now()
	views := make([]appView, 0, len(grants))
	for _, g := range grants {
		views = append(views, appView{Grant: g, Live: g.Live(now)})
	}
	return httpio.WriteJSON(w, http.StatusOK, views)
}

func (s *Server) revokeApp(w http.ResponseWriter, r *http.Request, c caller) error {
	partner, err := pathID(r, "partner")
	if err != nil {
		return err
	}
	if err := s.store.RevokeGrant(r.Context(), c.memberID, partner); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) revokeAppScope(w http.ResponseWriter, r *http.Request, c caller) error {
	partner, err := pathID(r, "partner")
	if err != nil {
		return err
	}
	scope := r.PathValue("scope")
	if !slices.Contains(glasshouse.DataScopes, scope) {
		return glasshouse.Errorf(glasshouse.EINVALID, "Unknown scope %q.", scope)
	}
	if err := s.store.RevokeScope(r.Context(), c.memberID, partner, scope); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) setAppRelay(w http.ResponseWriter, r *http.Request, c caller) error {
	partner, err := pathID(r, "partner")
	if err != nil {
		return err
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	} else if in.Enabled == nil {
		return glasshouse.Errorf(glasshouse.EINVALID, "enabled (true or false) is required.")
	}
	if err := s.store.SetRelayEnabled(r.Context(), c.memberID, partner, *in.Enabled); err != nil {
		return err
	}
	return noContent(w)
}

// reconfirmApp renews a consent for another GrantLifetime, never past the
// partner's current agreement.
func (s *Server) reconfirmApp(w http.ResponseWriter, r *http.Request, c caller) error {
	partner, err := pathID(r, "partner")
	if err != nil {
		return err
	}
	ctx := r.Context()
	g, err := s.store.Grant(ctx, c.memberID, partner)
	if err != nil {
		return err
	}
	a, err := s.store.CurrentAgreement(ctx, partner)
	if err != nil {
		return err
	}
	now := s.now()
	g.ConfirmedAt = now
	g.ExpiresAt = now.Add(glasshouse.GrantLifetime)
	if a.ExpiresAt.Before(g.ExpiresAt) {
		g.ExpiresAt = a.ExpiresAt
	}
	saved, err := s.store.SaveGrant(ctx, *g, g.RelayEmail)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, appView{Grant: saved, Live: saved.Live(now)})
}
