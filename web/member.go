package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// me returns the caller's own profile, every field included.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c caller) error {
	m, err := s.store.MemberByID(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, m)
}

// updateMe changes the fields the body names.
func (s *Server) updateMe(w http.ResponseWriter, r *http.Request, c caller) error {
	var in glasshouse.ProfileUpdate
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	m, err := s.store.UpdateProfile(r.Context(), c.memberID, in)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, m)
}

// memberByHandle returns a profile as the caller may see it.
func (s *Server) memberByHandle(w http.ResponseWriter, r *http.Request, c caller) error {
	m, err := s.visibleMember(r.Context(), c.memberID, r.PathValue("handle"))
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, m)
}

// visibleMember returns the member with handle as viewer sees it:
// ENOTFOUND when absent or when either has blocked the other.
//
// The store has no single call for this yet, so it takes four reads.
func (s *Server) visibleMember(ctx context.Context, viewer int64, handle string) (*glasshouse.Member, error) {
	m, err := s.store.MemberByHandle(ctx, handle)
	if err != nil {
		return nil, err
	} else if m.ID == viewer {
		return m, nil
	}
	for _, pair := range [][2]int64{{viewer, m.ID}, {m.ID, viewer}} {
		blocked, err := s.store.Blocked(ctx, pair[0])
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(blocked, func(b *glasshouse.Member) bool { return b.ID == pair[1] }) {
			return nil, glasshouse.Errorf(glasshouse.ENOTFOUND, "Member not found.")
		}
	}
	friends, err := s.store.AreFriends(ctx, viewer, m.ID)
	if err != nil {
		return nil, err
	}
	seen := m.SeenBy(viewer, friends)
	return &seen, nil
}
