package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/policy"
)

// newMessage is the body of POST /me/messages.
type newMessage struct {
	To          string `json:"to"`            // the friend's pairwise id
	Text        string `json:"text"`          // 1 byte to 8 KiB of UTF-8
	ClientTxnID string `json:"client_txn_id"` // optional: a retry with the same id is stored once
}

// sent is the body of a POST /me/messages response.
type sent struct {
	ID           string `json:"id"`
	Conversation string `json:"conversation"`
}

// send serves POST /me/messages: one message from the member to one
// friend, in their 1:1 conversation, marked as sent via the partner. 201
// when stored, 200 when a retry with the same client_txn_id found it
// stored.
func (a *API) send(ctx context.Context, c *call) (read, error) {
	var in newMessage
	if err := httpio.Decode(c.w, c.r, &in); err != nil {
		return nil, err
	}
	if in.To == "" {
		return nil, glasshouse.Errorf(glasshouse.EINVALID, `Field "to" must be the id of a friend.`)
	}
	nm := glasshouse.NewMessage{SenderID: c.memberID, Text: in.Text, ClientTxnID: in.ClientTxnID, ViaPartner: c.partner.Name}
	if err := nm.Validate(); err != nil {
		return nil, err
	}
	to, err := a.friendByID(ctx, c, in.To)
	if err != nil {
		return nil, err
	}
	if to != nil {
		c.in.Request.RecipientID = to.ID
		if c.in.Recipient, err = grantOrNil(ctx, a.store, to.ID, c.partner.ID); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, tx glasshouse.Within) (*reply, error) {
		// The policy allows only a recipient it was told of: to is set.
		// The 1:1 conversation (created if needed) and the message are
		// stored with the access record, in one transaction.
		conv, _, err := tx.CreateDirect(ctx, c.memberID, to.Handle)
		if err != nil {
			return nil, err
		}
		nm.ConversationID = conv.ID
		msg, created, err := tx.SendMessage(ctx, nm)
		if err != nil {
			return nil, err
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK
		}
		return &reply{status: status, body: sent{ID: a.ids.message(c.clientID, msg.ID), Conversation: a.ids.conversation(c.clientID, conv.ID)}, items: 1}, nil
	}, nil
}

// friendByID returns the member's friend whose pairwise id is id, or nil if
// none is: the policy refuses both an unknown id and a friend without a
// grant as recipient_not_granted, so that the partner cannot tell a former
// user who is a friend from one who is not.
func (a *API) friendByID(ctx context.Context, c *call, id string) (*glasshouse.Member, error) {
	friends, err := a.store.Friends(ctx, c.memberID)
	if err != nil {
		return nil, err
	}
	for _, f := range friends {
		if a.verifier.PairwiseID(c.clientID, f.ID) == id {
			return f, nil
		}
	}
	return nil, nil
}

// message is one message of GET /me/conversations/{id}/messages.
type message struct {
	ID     string    `json:"id"`
	From   string    `json:"from"` // the sender's pairwise id
	Text   string    `json:"text"`
	SentAt time.Time `json:"sent_at"`
}

// messagesPage is the body of GET /me/conversations/{id}/messages.
type messagesPage struct {
	Messages []message `json:"messages"`
	Next     string    `json:"next,omitempty"` // the cursor of the next (older) page; absent on the last
}

// messages serves GET /me/conversations/{id}/messages?limit=N&cursor=C:
// one page of a conversation that the member picked at consent, newest
// first. Another member's messages appear only if that member's own grant
// to the partner picked the same conversation (policy.Message), so a page
// may hold fewer than limit messages; follow next until it is absent.
func (a *API) messages(ctx context.Context, c *call) (read, error) {
	limit, err := queryInt(c.r, "limit", 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize)
	if err != nil {
		return nil, err
	}
	// Conversation ids cannot be reversed: the id names a conversation
	// only if it is one of those the member picked. Any other id is left
	// at 0, which the policy refuses as conversation_not_granted.
	id := c.r.PathValue("id")
	if c.in.Grant != nil {
		for _, picked := range c.in.Grant.Conversations {
			if a.ids.conversation(c.clientID, picked) == id {
				c.in.Request.ConversationID = picked
			}
		}
	}
	listing := "messages/" + id
	var before int64
	if cur := c.r.URL.Query().Get("cursor"); cur != "" {
		if before, err = a.ids.position(c.clientID, c.memberID, listing, cur); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, tx glasshouse.Within) (*reply, error) {
		page, err := tx.Messages(ctx, glasshouse.MessageQuery{
			ConversationID: c.in.Request.ConversationID, MemberID: c.memberID, Before: before, Limit: limit})
		if err != nil {
			return nil, err
		}
		out := messagesPage{Messages: []message{}}
		senders := map[int64]*glasshouse.Grant{} // the grants of the other senders
		for _, m := range page.Messages {
			var sg *glasshouse.Grant
			if m.SenderID != c.memberID {
				g, seen := senders[m.SenderID]
				if !seen {
					if g, err = grantOrNil(ctx, tx, m.SenderID, c.partner.ID); err != nil {
						return nil, err
					}
					senders[m.SenderID] = g
				}
				sg = g
			}
			if v, ok := policy.Message(c.in, m, sg); ok {
				out.Messages = append(out.Messages, message{ID: a.ids.message(c.clientID, v.ID),
					From: a.verifier.PairwiseID(c.clientID, v.SenderID), Text: v.Text, SentAt: v.SentAt.UTC()})
			}
		}
		if page.Next != 0 {
			out.Next = a.ids.cursor(c.clientID, c.memberID, listing, page.Next)
		}
		return &reply{status: http.StatusOK, body: out, items: len(out.Messages)}, nil
	}, nil
}
