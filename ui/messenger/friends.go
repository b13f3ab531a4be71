package messenger

import (
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ui"
)

// friendsData is what the friends page shows.
type friendsData struct {
	Friends  []*glasshouse.Member
	Requests *glasshouse.FriendRequests
	Blocked  []*glasshouse.Member
}

// friends serves GET /friends.
func (p *Pages) friends(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.showFriends(w, r, m, http.StatusOK, &ui.Page{Flash: flashes[r.URL.Query().Get("done")]})
}

func (p *Pages) showFriends(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, status int, pg *ui.Page) {
	ctx := r.Context()
	var d friendsData
	var err error
	if d.Requests, err = p.store.FriendRequests(ctx, m.ID); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	if d.Friends, err = p.store.Friends(ctx, m.ID); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	if d.Blocked, err = p.store.Blocked(ctx, m.ID); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	pg.Section, pg.Member, pg.Data = "friends", m, d
	p.render(w, r, "friends", status, pg)
}

// requestFriend serves the find-by-handle form: it sends a request, or
// makes the two friends at once when the other had asked already.
func (p *Pages) requestFriend(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	handle := handleInput(r.PostForm.Get("handle"))
	err := glasshouse.ValidateHandle(handle)
	var req *glasshouse.FriendRequest
	if err == nil {
		req, err = p.store.RequestFriend(r.Context(), m.ID, handle)
	}
	if err != nil {
		p.refuse(w, r, err, "handle", func(status int, pg *ui.Page) { p.showFriends(w, r, m, status, pg) })
		return
	}
	done := "requested"
	if req == nil {
		done = "friends"
	}
	redirect(w, r, "/friends", done)
}

func (p *Pages) acceptRequest(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	id, err := pathID(r, "id")
	if err == nil {
		err = p.store.AcceptFriendRequest(r.Context(), m.ID, id)
	}
	p.friendsDone(w, r, m, err, "friends")
}

func (p *Pages) declineRequest(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	id, err := pathID(r, "id")
	if err == nil {
		err = p.store.DeclineFriendRequest(r.Context(), m.ID, id)
	}
	p.friendsDone(w, r, m, err, "declined")
}

func (p *Pages) cancelRequest(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	id, err := pathID(r, "id")
	if err == nil {
		err = p.store.CancelFriendRequest(r.Context(), m.ID, id)
	}
	p.friendsDone(w, r, m, err, "cancelled")
}

func (p *Pages) removeFriend(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.friendsDone(w, r, m, p.store.RemoveFriend(r.Context(), m.ID, r.PathValue("handle")), "removed")
}

func (p *Pages) block(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.friendsDone(w, r, m, p.store.Block(r.Context(), m.ID, handleInput(r.PostForm.Get("handle"))), "blocked")
}

func (p *Pages) unblock(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.friendsDone(w, r, m, p.store.Unblock(r.Context(), m.ID, r.PathValue("handle")), "unblocked")
}

// friendsDone ends a button's POST on the friends page: back to the page
// with the confirmation done, or with err's message on top.
func (p *Pages) friendsDone(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, err error, done string) {
	if err != nil {
		p.refuse(w, r, err, "", func(status int, pg *ui.Page) { p.showFriends(w, r, m, status, pg) })
		return
	}
	redirect(w, r, "/friends", done)
}
