package web

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// streamRoute is the pattern of the real-time stream.
const streamRoute = "GET /api/v1/stream"

// routes is the route table of the whole API.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	public := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, s.handle(h))
	}
	member := func(pattern string, h func(http.ResponseWriter, *http.Request, caller) error) {
		mux.Handle(pattern, s.handle(s.authenticated(h)))
	}

	public("GET /healthz", s.health)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))

	// Accounts and sessions (auth.go).
	public("POST /api/v1/members", s.signup)
	public("POST /api/v1/sessions", s.login)
	member("DELETE /api/v1/sessions/current", s.logout)
	member("DELETE /api/v1/sessions", s.logoutEverywhere)
	member("PUT /api/v1/me/password", s.changePassword)

	// Profiles (member.go).
	member("GET /api/v1/me", s.me)
	member("PATCH /api/v1/me", s.updateMe)
	member("GET /api/v1/members/{handle}", s.memberByHandle)

	// Friends and blocks (friend.go).
	member("POST /api/v1/friend-requests", s.requestFriend)
	member("GET /api/v1/friend-requests", s.friendRequests)
	member("POST /api/v1/friend-requests/{id}/accept", s.acceptFriendRequest)
	member("POST /api/v1/friend-requests/{id}/decline", s.declineFriendRequest)
	member("DELETE /api/v1/friend-requests/{id}", s.cancelFriendRequest)
	member("GET /api/v1/friends", s.friends)
	member("DELETE /api/v1/friends/{handle}", s.removeFriend)
	member("GET /api/v1/blocks", s.blocks)
	member("POST /api/v1/blocks", s.block)
	member("DELETE /api/v1/blocks/{handle}", s.unblock)

	// Conversations and messages (conversation.go).
	member("POST /api/v1/conversations", s.createConversation)
	member("GET /api/v1/conversations", s.conversations)
	member("GET /api/v1/conversations/{id}", s.conversation)
	member("POST /api/v1/conversations/{id}/members", s.addMember)
	member("DELETE /api/v1/conversations/{id}/members/me", s.leave)
	member("POST /api/v1/conversations/{id}/messages", s.sendMessage)
	member("GET /api/v1/conversations/{id}/messages", s.messages)
	member("POST /api/v1/conversations/{id}/read", s.markRead)
	member("DELETE /api/v1/conversations/{id}/messages/{seq}", s.deleteForMe)

	// Connected apps and consent (app.go).
	member("GET /api/v1/me/apps", s.apps)
	member("DELETE /api/v1/me/apps/{partner}", s.revokeApp)
	member("DELETE /api/v1/me/apps/{partner}/scopes/{scope}", s.revokeAppScope)
	member("PUT /api/v1/me/apps/{partner}/relay", s.setAppRelay)
	member("POST /api/v1/me/apps/{partner}/reconfirm", s.reconfirmApp)

	// The public partner directory and agreement terms (directory.go).
	public("GET /api/v1/partners", s.directory)
	public("GET /api/v1/partners/{client_id}/agreements/{version}/terms", s.terms)

	// The member's access events in the transparency log (access.go).
	if s.accessLog != nil {
		member("GET /api/v1/me/access", s.myAccess)
	}

	// Real-time stream (stream.go).
	member(streamRoute, s.stream)

	public("/api/", func(http.ResponseWriter, *http.Request) error {
		return glasshouse.Errorf(glasshouse.ENOTFOUND, "No such endpoint or method.")
	})
	return mux
}

// handle serves h, turning its error into the response.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// health reports whether the database answers (503 if not), and what the
// node runs without (Config.Degraded).
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if s.isStopping() {
		return glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The server is shutting down.")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.ErrorContext(r.Context(), "health check", "err", err)
		return glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The database does not answer.")
	}
	if s.degraded != nil {
		if what := s.degraded(); len(what) > 0 {
			return httpio.WriteJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": what})
		}
	}
	return httpio.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// pathID reads a positive integer path value, in canonical decimal
// (httpio.ParseInt): "1", never "01" or "+1".
func pathID(r *http.Request, name string) (int64, error) {
	id, ok := httpio.ParseInt(r.PathValue(name), 1, math.MaxInt64)
	if !ok {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "The %s in the path must be a positive integer, in decimal without sign or leading zeros.", name)
	}
	return id, nil
}

// handleBody is the body of requests that name one member.
type handleBody struct {
	Handle string `json:"handle"`
}

// decodeHandle reads a handleBody and checks its handle.
func decodeHandle(w http.ResponseWriter, r *http.Request) (string, error) {
	var in handleBody
	if err := httpio.Decode(w, r, &in); err != nil {
		return "", err
	}
	return in.Handle, glasshouse.ValidateHandle(in.Handle)
}
