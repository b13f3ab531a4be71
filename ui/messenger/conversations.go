package messenger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ui"
)

// conversationView is a conversation with the names the viewer reads.
type conversationView struct {
	*glasshouse.Conversation
	Name string // the group's title, or the other member's name
	With string // the other members' handles: "@bob, @carol"
	// Last is the newest message the viewer has not deleted, nil if none;
	// Preview is the start of it as the list shows it.
	Last    *glasshouse.Message
	Preview string
}

// previewRunes is how much of the last message the list shows.
const previewRunes = 100

// preview is how the conversations list shows a conversation's last
// message: who sent it (when not the other member of a direct
// conversation), then its text on one line, cut at previewRunes.
func preview(c *glasshouse.Conversation, m *glasshouse.Message, me int64) string {
	if m.SenderDeleted {
		return "A message from a deleted account"
	}
	text := strings.Join(strings.Fields(m.Text), " ")
	if r := []rune(text); len(r) > previewRunes {
		text = string(r[:previewRunes]) + "…"
	}
	switch {
	case m.SenderID == me:
		return "You: " + text
	case c.Kind == glasshouse.Group:
		return "@" + m.SenderHandle + ": " + text
	}
	return text
}

func viewConversation(c *glasshouse.Conversation, me int64) conversationView {
	v := conversationView{Conversation: c, Name: c.Title}
	var others []string
	for _, mem := range c.Members {
		if mem.ID == me {
			continue
		}
		others = append(others, "@"+mem.Handle)
		if c.Kind == glasshouse.Direct {
			v.Name = displayName(mem)
		}
	}
	v.With = strings.Join(others, ", ")
	if v.Name == "" {
		v.Name = "Conversation"
	}
	return v
}

// displayName is the member's name as the viewer may see it, or @handle.
func displayName(m *glasshouse.Member) string {
	if m.DisplayName != "" {
		return m.DisplayName
	}
	return "@" + m.Handle
}

// conversationsData is what the conversations list shows.
type conversationsData struct {
	Conversations []conversationView
	Friends       []*glasshouse.Member
	Picked        map[string]bool // friends ticked in the group form
	Stream        string          // the stream's URL, with its cursor
}

// conversations serves GET /messages.
func (p *Pages) conversations(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.showConversations(w, r, m, http.StatusOK, &ui.Page{Flash: flashes[r.URL.Query().Get("done")]})
}

func (p *Pages) showConversations(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, status int, pg *ui.Page) {
	ctx := r.Context()
	convs, err := p.store.Conversations(ctx, m.ID)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	latest, err := p.store.LatestMessages(ctx, m.ID)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	d := conversationsData{Picked: map[string]bool{}}
	for _, c := range convs {
		v := viewConversation(c, m.ID)
		if last := latest[c.ID]; last != nil {
			v.Last, v.Preview = last, preview(c, last, m.ID)
		}
		d.Conversations = append(d.Conversations, v)
	}
	if d.Friends, err = p.store.Friends(ctx, m.ID); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	for _, h := range pg.Form["members"] {
		d.Picked[h] = true
	}
	after, err := p.streamCursor(ctx, m.ID, convs)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	d.Stream = streamURL(after)
	pg.Section, pg.Member, pg.Data = "messages", m, d
	p.render(w, r, "conversations", status, pg)
}

// streamCursor returns a message id the member's stream can start after
// without missing a message that convs, read just before, does not count:
// the newest message, as of convs, of the most recently active conversation
// that has one (0 when none has). live.js drops what the page already
// shows by each conversation's seq.
func (p *Pages) streamCursor(ctx context.Context, memberID int64, convs []*glasshouse.Conversation) (int64, error) {
	for _, c := range convs {
		if c.LastSeq == 0 {
			continue
		}
		page, err := p.store.Messages(ctx, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: memberID, Before: c.LastSeq + 1, Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Messages) > 0 {
			return page.Messages[0].ID, nil
		}
	}
	return 0, nil
}

func streamURL(after int64) string { return fmt.Sprintf("/api/v1/stream?after=%d", after) }

// startDirect opens (creating it if needed) the 1:1 conversation with a
// friend.
func (p *Pages) startDirect(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	handle := handleInput(r.PostForm.Get("with"))
	err := glasshouse.ValidateHandle(handle)
	var c *glasshouse.Conversation
	if err == nil {
		c, _, err = p.store.CreateDirect(r.Context(), m.ID, handle)
	}
	if err != nil {
		p.refuse(w, r, err, "with", func(status int, pg *ui.Page) { p.showConversations(w, r, m, status, pg) })
		return
	}
	redirect(w, r, fmt.Sprintf("/messages/%d", c.ID), "")
}

// createGroup creates a group of the member and the friends ticked.
func (p *Pages) createGroup(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	g := glasshouse.NewGroup{Title: strings.TrimSpace(r.PostForm.Get("title"))}
	for _, h := range r.PostForm["members"] {
		g.Members = append(g.Members, handleInput(h))
	}
	field := "members"
	err := g.Validate()
	if glasshouse.ErrorCode(err) == glasshouse.EINVALID {
		field = "title"
	}
	var c *glasshouse.Conversation
	if err == nil {
		c, err = p.store.CreateGroup(r.Context(), m.ID, g)
	}
	if err != nil {
		p.refuse(w, r, err, field, func(status int, pg *ui.Page) { p.showConversations(w, r, m, status, pg) })
		return
	}
	redirect(w, r, fmt.Sprintf("/messages/%d", c.ID), "")
}

// messageView is a message with its sender's name as the viewer reads it.
type messageView struct {
	*glasshouse.Message
	Sender string
	Mine   bool
}

// conversationData is what one conversation's page shows.
type conversationData struct {
	conversationView
	Messages []messageView // oldest first
	Older    int64         // ?before= of the page of older messages; 0 when none
	Paged    bool          // an older page: no live updates, a link to the newest
	LastSeq  int64         // the newest seq the page accounts for
	Stream   string        // the stream's URL, with its cursor
	TxnID    string        // the send form's client_txn_id
}

// conversation serves GET /messages/{id}: the newest messages, or with
// ?before=S those just below seq S. Opening the newest page marks the
// conversation read.
func (p *Pages) conversation(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	p.showConversation(w, r, m, http.StatusOK, &ui.Page{})
}

func (p *Pages) showConversation(w http.ResponseWriter, r *http.Request, m *glasshouse.Member, status int, pg *ui.Page) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	var before int64
	if s := r.URL.Query().Get("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before <= 0 {
			p.kit.Fail(w, r, glasshouse.Errorf(glasshouse.EINVALID, "before must be a positive message number."))
			return
		}
	}
	c, err := p.store.Conversation(ctx, m.ID, id)
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	page, err := p.store.Messages(ctx, glasshouse.MessageQuery{ConversationID: id, MemberID: m.ID, Before: before})
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	d := conversationData{conversationView: viewConversation(c, m.ID), Older: page.Next, Paged: before != 0, LastSeq: c.LastSeq, TxnID: newTxnID()}
	names := map[int64]string{}
	for _, mem := range c.Members {
		names[mem.ID] = displayName(mem)
	}
	slices.Reverse(page.Messages)
	for _, msg := range page.Messages {
		v := messageView{Message: msg, Sender: names[msg.SenderID], Mine: msg.SenderID == m.ID}
		switch {
		case v.Mine:
			v.Sender = "You"
		case msg.SenderDeleted:
			v.Sender, v.Text = "Deleted account", "This message is gone: its sender deleted their account."
		case v.Sender == "": // no longer a member
			v.Sender = "@" + msg.SenderHandle
		}
		d.Messages = append(d.Messages, v)
		d.LastSeq = max(d.LastSeq, msg.Seq)
	}
	if !d.Paged {
		if c.LastSeq > c.ReadSeq {
			if err := p.store.MarkRead(ctx, m.ID, id, c.LastSeq); err != nil {
				p.log.WarnContext(ctx, "mark read", "conversation", id, "err", err)
			}
		}
		var after int64
		if n := len(page.Messages); n > 0 {
			after = page.Messages[n-1].ID
		} else if after, err = p.memberCursor(ctx, m.ID); err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		d.Stream = streamURL(after)
	}
	pg.Section, pg.Member, pg.Data = "messages", m, d
	p.render(w, r, "conversation", status, pg)
}

// memberCursor is streamCursor over all the member's conversations.
func (p *Pages) memberCursor(ctx context.Context, memberID int64) (int64, error) {
	convs, err := p.store.Conversations(ctx, memberID)
	if err != nil {
		return 0, err
	}
	return p.streamCursor(ctx, memberID, convs)
}

// newTxnID returns a fresh client_txn_id for a send form: a form sent
// twice is stored once.
func newTxnID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// send serves the send form (POST /messages/{id}).
func (p *Pages) send(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	id, err := pathID(r, "id")
	if err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	msg := glasshouse.NewMessage{
		ConversationID: id,
		SenderID:       m.ID,
		Text:           strings.ReplaceAll(r.PostForm.Get("text"), "\r\n", "\n"), // as browsers post a textarea
		ClientTxnID:    r.PostForm.Get("client_txn_id"),
	}
	err = msg.Validate()
	if err == nil {
		_, _, err = p.store.SendMessage(r.Context(), msg)
	}
	if err != nil {
		p.refuse(w, r, err, "text", func(status int, pg *ui.Page) { p.showConversation(w, r, m, status, pg) })
		return
	}
	redirect(w, r, fmt.Sprintf("/messages/%d#compose", id), "")
}
