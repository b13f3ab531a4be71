package graph

import (
	"context"
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/policy"
)

// profile is the body of GET /me: the member's pairwise id and the fields
// policy.Me allows.
type profile struct {
	ID            string   `json:"id"`
	Name          string   `json:"name,omitempty"`
	Picture       string   `json:"picture,omitempty"`
	Email         string   `json:"email,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	Conversations []string `json:"conversations,omitempty"` // with messages.read: the picked conversations' ids
}

// me serves GET /me.
func (a *API) me(ctx context.Context, c *call) (read, error) {
	return func(ctx context.Context, tx glasshouse.Within) (*reply, error) {
		m, err := tx.MemberByID(ctx, c.memberID)
		if err != nil {
			return nil, err
		}
		p := policy.Me(c.in, m)
		out := profile{ID: a.verifier.PairwiseID(c.clientID, c.memberID), Name: p.Name, Picture: p.Picture, Email: p.Email, Phone: p.Phone}
		for _, id := range p.Conversations {
			out.Conversations = append(out.Conversations, a.ids.conversation(c.clientID, id))
		}
		return &reply{status: http.StatusOK, body: out, items: 1}, nil
	}, nil
}

// friend is one entry of GET /me/friends.
type friend struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Picture string `json:"picture,omitempty"`
}

// friendsPage is the body of GET /me/friends.
type friendsPage struct {
	Friends []friend `json:"friends"`
	Next    string   `json:"next,omitempty"` // the cursor of the next page; absent on the last
}

// friendsListing names the friends listing in its cursors.
const friendsListing = "friends"

// friends serves GET /me/friends?limit=N&cursor=C: the member's friends
// whose own live grant to the same partner includes friends (a friend who
// granted the partner other scopes only has not agreed to be found through
// it), oldest member first.
func (a *API) friends(ctx context.Context, c *call) (read, error) {
	limit, err := queryInt(c.r, "limit", 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize)
	if err != nil {
		return nil, err
	}
	var after int64
	if cur := c.r.URL.Query().Get("cursor"); cur != "" {
		if after, err = a.ids.position(c.clientID, c.memberID, friendsListing, cur); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, tx glasshouse.Within) (*reply, error) {
		friends, more, err := grantingFriends(ctx, tx, c, after, limit)
		if err != nil {
			return nil, err
		}
		page := friendsPage{Friends: []friend{}}
		if more {
			page.Next = a.ids.cursor(c.clientID, c.memberID, friendsListing, friends[len(friends)-1].Member.ID)
		}
		for _, f := range friends {
			if fp, ok := policy.Friend(c.in, f.Member, f.Grant); ok {
				page.Friends = append(page.Friends, friend{ID: a.verifier.PairwiseID(c.clientID, f.Member.ID), Name: fp.Name, Picture: fp.Picture})
			}
		}
		return &reply{status: http.StatusOK, body: page, items: len(page.Friends)}, nil
	}, nil
}

// grantingFriends reads up to limit of the member's friends after the
// member id after whose own live grant to the partner includes friends,
// each with their member row and that grant, in one store call; more
// reports whether there are others. It is the one data read of GET
// /me/friends.
func grantingFriends(ctx context.Context, tx glasshouse.Within, c *call, after int64, limit int) (friends []glasshouse.FriendGrant, more bool, err error) {
	friends, err = tx.FriendsWithGrants(ctx, c.memberID, c.partner.ID, glasshouse.ScopeFriends, c.in.Now, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	if more = len(friends) > limit; more {
		friends = friends[:limit]
	}
	return friends, more, nil
}

// grantOrNil returns memberID's grant to partnerID, or nil if there is
// none: the policy's input for "no grant".
func grantOrNil(ctx context.Context, store interface {
	Grant(ctx context.Context, memberID, partnerID int64) (*glasshouse.Grant, error)
}, memberID, partnerID int64) (*glasshouse.Grant, error) {
	g, err := store.Grant(ctx, memberID, partnerID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, nil
	}
	return g, err
}
