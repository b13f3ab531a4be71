package web

import (
	"context"
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// friendRequestResponse answers a friend request: "requested" with the
// pending request, or "friends" when the other member had already asked.
type friendRequestResponse struct {
	Status  string                    `json:"status"`
	Request *glasshouse.FriendRequest `json:"request,omitempty"`
}

func (s *Server) requestFriend(w http.ResponseWriter, r *http.Request, c caller) error {
	handle, err := decodeHandle(w, r)
	if err != nil {
		return err
	}
	req, err := s.store.RequestFriend(r.Context(), c.memberID, handle)
	if err != nil {
		return err
	} else if req == nil {
		return httpio.WriteJSON(w, http.StatusOK, friendRequestResponse{Status: "friends"})
	}
	return httpio.WriteJSON(w, http.StatusCreated, friendRequestResponse{Status: "requested", Request: req})
}

func (s *Server) friendRequests(w http.ResponseWriter, r *http.Request, c caller) error {
	reqs, err := s.store.FriendRequests(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	reqs.Incoming, reqs.Outgoing = nonNil(reqs.Incoming), nonNil(reqs.Outgoing)
	return httpio.WriteJSON(w, http.StatusOK, reqs)
}

func (s *Server) acceptFriendRequest(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.onFriendRequest(w, r, c, s.store.AcceptFriendRequest)
}

func (s *Server) declineFriendRequest(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.onFriendRequest(w, r, c, s.store.DeclineFriendRequest)
}

func (s *Server) cancelFriendRequest(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.onFriendRequest(w, r, c, s.store.CancelFriendRequest)
}

// onFriendRequest applies one store action to the request in the path.
func (s *Server) onFriendRequest(w http.ResponseWriter, r *http.Request, c caller, action func(ctx context.Context, memberID, requestID int64) error) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := action(r.Context(), c.memberID, id); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) friends(w http.ResponseWriter, r *http.Request, c caller) error {
	friends, err := s.store.Friends(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, nonNil(friends))
}

func (s *Server) removeFriend(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.store.RemoveFriend(r.Context(), c.memberID, r.PathValue("handle")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) blocks(w http.ResponseWriter, r *http.Request, c caller) error {
	blocked, err := s.store.Blocked(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, nonNil(blocked))
}

func (s *Server) block(w http.ResponseWriter, r *http.Request, c caller) error {
	handle, err := decodeHandle(w, r)
	if err != nil {
		return err
	}
	if err := s.store.Block(r.Context(), c.memberID, handle); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) unblock(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.store.Unblock(r.Context(), c.memberID, r.PathValue("handle")); err != nil {
		return err
	}
	return noContent(w)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
