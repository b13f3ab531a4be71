package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/glasshouse/glasshouse"
)

func errNoConversation() error {
	return glasshouse.Errorf(glasshouse.ENOTFOUND, "Conversation not found.")
}

// conversationColumns are what scanConversation reads, from
// conversation_members cm (the viewer's row) joined with conversations c.
// The unread count leaves out the viewer's own messages and those the
// viewer does not see (deleted for them, or sent by someone they blocked).
const conversationColumns = `c.id, c.kind, c.title, c.creator_id, c.last_seq, c.created_at, cm.read_seq,
	(SELECT COUNT(*) FROM messages m
		WHERE m.conversation_id = c.id AND m.seq > cm.read_seq AND m.sender_id <> cm.member_id
		AND NOT EXISTS(SELECT 1 FROM hidden_messages h
			WHERE h.member_id = cm.member_id AND h.conversation_id = m.conversation_id AND h.seq = m.seq)
		AND NOT EXISTS(SELECT 1 FROM blocks b WHERE b.member_id = cm.member_id AND b.blocked_id = m.sender_id))`

func scanConversation(row scanner) (*glasshouse.Conversation, error) {
	var c glasshouse.Conversation
	var created int64
	if err := row.Scan(&c.ID, &c.Kind, &c.Title, &c.CreatorID, &c.LastSeq, &created, &c.ReadSeq, &c.Unread); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	c.Members = []*glasshouse.Member{}
	return &c, nil
}

// conversation returns one conversation as viewer sees it.
func (t *tx) conversation(viewer, id int64) (*glasshouse.Conversation, error) {
	c, err := scanConversation(t.queryRow(`SELECT `+conversationColumns+`
		FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
		WHERE cm.member_id = ? AND cm.conversation_id = ?`, viewer, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoConversation()
	} else if err != nil {
		return nil, err
	}
	members, err := t.conversationMembers(viewer, `cm.conversation_id = ?`, id)
	if err != nil {
		return nil, err
	}
	c.Members = members[id]
	return c, nil
}

// conversationMembers returns the members of the conversations that where
// (a condition on conversation_members cm) selects, by conversation and
// handle, as viewer sees them.
func (t *tx) conversationMembers(viewer int64, where string, args ...any) (map[int64][]*glasshouse.Member, error) {
	rows, err := t.query(`SELECT `+memberColumns+`, cm.conversation_id,
			EXISTS(SELECT 1 FROM friendships f WHERE f.member_id = ? AND f.friend_id = m.id)
		FROM conversation_members cm JOIN members m ON m.id = cm.member_id
		WHERE `+where+` ORDER BY cm.conversation_id, m.handle`, append([]any{viewer}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byConversation := make(map[int64][]*glasshouse.Member)
	for rows.Next() {
		var conversationID int64
		var friend bool
		m, err := scanMember(rows, &conversationID, &friend)
		if err != nil {
			return nil, err
		}
		seen := m.SeenBy(viewer, friend)
		byConversation[conversationID] = append(byConversation[conversationID], &seen)
	}
	return byConversation, rows.Err()
}

// membership is what the write rules need to know about a conversation
// member's conversation. ENOTFOUND if memberID is not a member.
type membership struct {
	kind    string
	creator int64
	lastSeq int64
}

func (t *tx) membership(memberID, conversationID int64) (*membership, error) {
	var ms membership
	err := t.queryRow(`SELECT c.kind, c.creator_id, c.last_seq
		FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
		WHERE cm.member_id = ? AND cm.conversation_id = ?`, memberID, conversationID).Scan(&ms.kind, &ms.creator, &ms.lastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoConversation()
	}
	return &ms, err
}

// friendPeer finds a member that memberID may put in a conversation: not
// absent or blocked either way (ENOTFOUND), not memberID (EINVALID), and a
// friend (EFORBIDDEN).
func (t *tx) friendPeer(memberID int64, handle string) (*glasshouse.Member, error) {
	other, err := t.visiblePeer(memberID, handle)
	if err != nil {
		return nil, err
	} else if other.ID == memberID {
		return nil, glasshouse.Errorf(glasshouse.EINVALID, "You are in the conversation already.")
	}
	return other, t.requireFriend(memberID, other)
}

// requireFriend returns EFORBIDDEN unless other is memberID's friend.
func (t *tx) requireFriend(memberID int64, other *glasshouse.Member) error {
	if ok, err := t.areFriends(memberID, other.ID); err != nil {
		return err
	} else if !ok {
		return glasshouse.Errorf(glasshouse.EFORBIDDEN, "You can only talk with friends, and @%s is not one.", other.Handle)
	}
	return nil
}

// CreateDirect returns the 1:1 conversation of memberID and other, creating
// it if needed.
func (s *Store) CreateDirect(ctx context.Context, memberID int64, other string) (*glasshouse.Conversation, bool, error) {
	var c *glasshouse.Conversation
	var created bool
	err := s.write(ctx, func(t *tx) (err error) {
		c, created, err = t.createDirect(memberID, other)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("create direct: %w", err)
	}
	return c, created, nil
}

func (t *tx) createDirect(memberID int64, other string) (c *glasshouse.Conversation, created bool, err error) {
	now := t.s.now()
	peer, err := t.friendPeer(memberID, other)
	if err != nil {
		return nil, false, err
	}
	low, high := min(memberID, peer.ID), max(memberID, peer.ID)
	var id int64
	err = t.queryRow(`SELECT id FROM conversations WHERE direct_low = ? AND direct_high = ?`, low, high).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		created = true
		if id, err = t.insertConversation(glasshouse.Direct, "", memberID, &low, &high, 2, micros(now)); err != nil {
			return nil, false, err
		}
		err = t.insertMembers(id, []int64{memberID, peer.ID}, 0, micros(now))
	}
	if err != nil {
		return nil, false, err
	}
	c, err = t.conversation(memberID, id)
	return c, created, err
}

func (t *tx) insertConversation(kind, title string, creator int64, low, high *int64, members int, now int64) (int64, error) {
	var id int64
	err := t.queryRow(`INSERT INTO conversations
		(kind, title, creator_id, direct_low, direct_high, member_count, members_version, last_seq, last_activity_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`,
		kind, title, creator, low, high, members, newMembersVersion(), now, now).Scan(&id)
	return id, err
}

func (t *tx) insertMembers(conversationID int64, memberIDs []int64, readSeq, now int64) error {
	for _, id := range memberIDs {
		if _, err := t.exec(`INSERT INTO conversation_members (member_id, conversation_id, read_seq, joined_at)
			VALUES (?, ?, ?, ?)`, id, conversationID, readSeq, now); err != nil {
			return err
		}
	}
	return nil
}

func errGroupFull() error {
	return glasshouse.Errorf(glasshouse.ETOOLARGE, "A group holds at most %d members.", glasshouse.MaxGroupMembers)
}

// CreateGroup creates a group of memberID and the friends g names. A handle
// named twice counts once.
func (s *Store) CreateGroup(ctx context.Context, memberID int64, g glasshouse.NewGroup) (*glasshouse.Conversation, error) {
	handles := make([]string, 0, len(g.Members))
	seen := make(map[string]bool, len(g.Members))
	for _, h := range g.Members {
		if !seen[h] {
			seen[h] = true
			handles = append(handles, h)
		}
	}
	if len(handles)+1 > glasshouse.MaxGroupMembers {
		return nil, fmt.Errorf("create group: %w", errGroupFull())
	}
	var c *glasshouse.Conversation
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		ids := []int64{memberID}
		for _, h := range handles {
			m, err := t.friendPeer(memberID, h)
			if err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		id, err := t.insertConversation(glasshouse.Group, g.Title, memberID, nil, nil, len(ids), micros(now))
		if err != nil {
			return err
		}
		if err := t.insertMembers(id, ids, 0, micros(now)); err != nil {
			return err
		}
		c, err = t.conversation(memberID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	return c, nil
}

// AddMember adds a friend of the group's creator, memberID, to the group.
// The new member's read marker starts at the last message.
func (s *Store) AddMember(ctx context.Context, memberID, conversationID int64, handle string) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		ms, err := t.membership(memberID, conversationID)
		if err != nil {
			return err
		} else if ms.kind != glasshouse.Group {
			return glasshouse.Errorf(glasshouse.EFORBIDDEN, "Members cannot be added to a direct conversation.")
		} else if ms.creator != memberID {
			return glasshouse.Errorf(glasshouse.EFORBIDDEN, "Only the group's creator adds members.")
		}
		other, err := t.visiblePeer(memberID, handle)
		if err != nil {
			return err
		}
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM conversation_members WHERE member_id = ? AND conversation_id = ?)`,
			other.ID, conversationID); err != nil {
			return err
		} else if ok {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "@%s is already a member.", handle)
		}
		if err := t.requireFriend(memberID, other); err != nil {
			return err
		}
		// The conditional increment also locks the row against a
		// concurrent AddMember on another node.
		if n, err := t.affected(`UPDATE conversations SET member_count = member_count + 1, members_version = ? WHERE id = ? AND member_count < ?`,
			newMembersVersion(), conversationID, glasshouse.MaxGroupMembers); err != nil {
			return err
		} else if n == 0 {
			return errGroupFull()
		}
		return t.insertMembers(conversationID, []int64{other.ID}, ms.lastSeq, micros(now))
	})
	if err != nil {
		return fmt.Errorf("add member: %w", err)
	}
	return nil
}

// Leave removes memberID from a group.
func (s *Store) Leave(ctx context.Context, memberID, conversationID int64) error {
	err := s.write(ctx, func(t *tx) error {
		ms, err := t.membership(memberID, conversationID)
		if err != nil {
			return err
		} else if ms.kind != glasshouse.Group {
			return glasshouse.Errorf(glasshouse.EFORBIDDEN, "A direct conversation cannot be left.")
		}
		if _, err := t.exec(`DELETE FROM conversation_members WHERE member_id = ? AND conversation_id = ?`, memberID, conversationID); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE conversations SET member_count = member_count - 1, members_version = ? WHERE id = ?`,
			newMembersVersion(), conversationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// Conversation returns one conversation as memberID sees it.
func (s *Store) Conversation(ctx context.Context, memberID, conversationID int64) (*glasshouse.Conversation, error) {
	var c *glasshouse.Conversation
	err := s.view(ctx, func(t *tx) error {
		var err error
		c, err = t.conversation(memberID, conversationID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conversation: %w", err)
	}
	return c, nil
}

// Conversations lists memberID's conversations, most recent activity first.
func (s *Store) Conversations(ctx context.Context, memberID int64) ([]*glasshouse.Conversation, error) {
	cs := []*glasshouse.Conversation{}
	err := s.view(ctx, func(t *tx) error {
		rows, err := t.query(`SELECT `+conversationColumns+`
			FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
			WHERE cm.member_id = ? ORDER BY c.last_activity_at DESC, c.id DESC`, memberID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanConversation(rows)
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		members, err := t.conversationMembers(memberID,
			`cm.conversation_id IN (SELECT conversation_id FROM conversation_members WHERE member_id = ?)`, memberID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if ms := members[c.ID]; ms != nil {
				c.Members = ms
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("conversations: %w", err)
	}
	return cs, nil
}

// messageColumns are what scanMessage reads, from messages m joined with
// the sender in members s.
const messageColumns = `m.id, m.conversation_id, m.seq, m.sender_id, s.handle, m.text, m.client_txn_id, m.via_partner, m.created_at,
	m.body, s.deleted_at <> 0`

// visible is a condition on messages m: seen by the member given as both
// its arguments, that is neither deleted for them nor sent by a member they
// blocked (in a group, a block hides the blocked member's messages from
// the blocker, in history as live).
const visible = `NOT EXISTS(SELECT 1 FROM hidden_messages h
	WHERE h.member_id = ? AND h.conversation_id = m.conversation_id AND h.seq = m.seq)
	AND NOT EXISTS(SELECT 1 FROM blocks b WHERE b.member_id = ? AND b.blocked_id = m.sender_id)`

// scanMessage reads messageColumns: the message with its text still
// sealed in body (see unseal).
func scanMessage(row scanner) (m *glasshouse.Message, body []byte, err error) {
	m = &glasshouse.Message{}
	var txn sql.NullString
	var created int64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.SenderID, &m.SenderHandle, &m.Text, &txn, &m.ViaPartner, &created,
		&body, &m.SenderDeleted); err != nil {
		return nil, nil, err
	}
	m.ClientTxnID = txn.String
	m.CreatedAt = fromMicros(created)
	return m, body, nil
}

// message runs a query for one row of messageColumns and returns its
// message, or sql.ErrNoRows.
func (t *tx) message(query string, args ...any) (*glasshouse.Message, error) {
	m, body, err := scanMessage(t.queryRow(query, args...))
	if err != nil {
		return nil, err
	}
	return m, t.unseal(m, body)
}

// messages runs a query for rows of messageColumns and returns their
// messages.
func (t *tx) messages(query string, args ...any) ([]*glasshouse.Message, error) {
	var rows messageRows
	if err := t.pipe(rows.statement(query, args...)); err != nil {
		return nil, err
	}
	return rows.open(t)
}

// messageRows are the rows of messageColumns that a statement read.
type messageRows struct {
	msgs   []*glasshouse.Message
	bodies [][]byte
}

// statement returns a Statement that reads the rows of query into mr.
func (mr *messageRows) statement(query string, args ...any) *Statement {
	return &Statement{Query: query, Args: args, Row: func(r interface{ Scan(...any) error }) error {
		m, body, err := scanMessage(r)
		if err != nil {
			return err
		}
		mr.msgs = append(mr.msgs, m)
		mr.bodies = append(mr.bodies, body)
		return nil
	}}
}

// open returns the messages read, unsealed. Unsealing may query: only once
// the rows are closed, since a connection runs one query at a time.
func (mr *messageRows) open(t *tx) ([]*glasshouse.Message, error) {
	msgs := mr.msgs
	if msgs == nil {
		msgs = []*glasshouse.Message{}
	}
	for i, m := range msgs {
		if err := t.unseal(m, mr.bodies[i]); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// Messages returns one page of a conversation's history.
func (s *Store) Messages(ctx context.Context, q glasshouse.MessageQuery) (*glasshouse.MessagePage, error) {
	var page *glasshouse.MessagePage
	err := s.view(ctx, func(t *tx) (err error) {
		page, err = t.messagePage(q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	return page, nil
}

// messagePage reads one page of history (see Messages).
func (t *tx) messagePage(q glasshouse.MessageQuery) (*glasshouse.MessagePage, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = glasshouse.DefaultPageSize
	}
	page := &glasshouse.MessagePage{}
	query := `SELECT ` + messageColumns + ` FROM messages m JOIN members s ON s.id = m.sender_id
		WHERE m.conversation_id = ? AND ` + visible
	var cursor int64
	if q.Forward {
		query += ` AND m.seq > ? ORDER BY m.seq LIMIT ?`
		cursor = q.After
	} else {
		query += ` AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`
		cursor = q.Before
		if cursor == 0 {
			cursor = math.MaxInt64
		}
	}
	// The membership and the page in one round trip (see tx.pipe); one
	// more message than asked tells whether there is a next page.
	var member bool
	var rows messageRows
	err := t.pipe(&Statement{Query: `SELECT EXISTS(SELECT 1 FROM conversation_members WHERE member_id = ? AND conversation_id = ?)`,
		Args: []any{q.MemberID, q.ConversationID}, Row: func(r interface{ Scan(...any) error }) error { return r.Scan(&member) }},
		rows.statement(query, q.ConversationID, q.MemberID, q.MemberID, cursor, limit+1))
	if err != nil {
		return nil, err
	} else if !member {
		return nil, errNoConversation()
	}
	msgs, err := rows.open(t)
	if err != nil {
		return nil, err
	}
	if len(msgs) > limit {
		msgs = msgs[:limit]
		page.Next = msgs[limit-1].Seq
	}
	page.Messages = msgs
	return page, nil
}

// checkQuery returns EINVALID for a query with both cursors, a negative
// one, or a limit outside 0 (the default) to MaxPageSize.
func checkQuery(q glasshouse.MessageQuery) error {
	switch {
	case q.Forward && q.Before != 0, !q.Forward && q.After != 0:
		return glasshouse.Errorf(glasshouse.EINVALID, "Page backward with before or forward with after, not both.")
	case q.Before < 0 || q.After < 0:
		return glasshouse.Errorf(glasshouse.EINVALID, "Cursors must not be negative.")
	case q.Limit < 0 || q.Limit > glasshouse.MaxPageSize:
		return glasshouse.Errorf(glasshouse.EINVALID, "Limit must be 1 to %d.", glasshouse.MaxPageSize)
	}
	return nil
}

// MarkRead moves memberID's read marker forward to seq, never back.
func (s *Store) MarkRead(ctx context.Context, memberID, conversationID, seq int64) error {
	err := s.write(ctx, func(t *tx) error {
		ms, err := t.membership(memberID, conversationID)
		if err != nil {
			return err
		} else if seq < 0 || seq > ms.lastSeq {
			return glasshouse.Errorf(glasshouse.EINVALID, "There is no message %d to mark read.", seq)
		}
		_, err = t.exec(`UPDATE conversation_members SET read_seq = ? WHERE member_id = ? AND conversation_id = ? AND read_seq < ?`,
			seq, memberID, conversationID, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// DeleteForMe hides one message from memberID only. Deleting it again is
// no error.
func (s *Store) DeleteForMe(ctx context.Context, memberID, conversationID, seq int64) error {
	err := s.write(ctx, func(t *tx) error {
		if _, err := t.membership(memberID, conversationID); err != nil {
			return err
		}
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM messages WHERE conversation_id = ? AND seq = ?)`, conversationID, seq); err != nil {
			return err
		} else if !ok {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "Message not found.")
		}
		_, err := t.exec(`INSERT INTO hidden_messages (member_id, conversation_id, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			memberID, conversationID, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete for me: %w", err)
	}
	return nil
}

// LatestMessages returns the newest message memberID sees (see visible)
// of each of memberID's conversations, by conversation id.
func (s *Store) LatestMessages(ctx context.Context, memberID int64) (map[int64]*glasshouse.Message, error) {
	msgs, err := s.read(ctx).messages(`SELECT `+messageColumns+`
		FROM conversation_members cm
		JOIN messages m ON m.conversation_id = cm.conversation_id
		JOIN members s ON s.id = m.sender_id
		WHERE cm.member_id = ? AND m.seq = (SELECT MAX(m.seq) FROM messages m
			WHERE m.conversation_id = cm.conversation_id AND `+visible+`)`, memberID, memberID, memberID)
	if err != nil {
		return nil, fmt.Errorf("latest messages: %w", err)
	}
	out := make(map[int64]*glasshouse.Message, len(msgs))
	for _, m := range msgs {
		out[m.ConversationID] = m
	}
	return out, nil
}

// MessagesAfter returns up to limit messages with ID > after from the
// conversations memberID belongs to, in ID order. A limit outside 1 to
// MaxPageSize means MaxPageSize.
func (s *Store) MessagesAfter(ctx context.Context, memberID, after int64, limit int) ([]*glasshouse.Message, error) {
	if limit <= 0 || limit > glasshouse.MaxPageSize {
		limit = glasshouse.MaxPageSize
	}
	msgs, err := s.read(ctx).messages(`SELECT `+messageColumns+`
		FROM messages m
		JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.member_id = ?
		JOIN members s ON s.id = m.sender_id
		WHERE m.id > ? AND `+visible+` ORDER BY m.id LIMIT ?`, memberID, after, memberID, memberID, limit)
	if err != nil {
		return nil, fmt.Errorf("messages after: %w", err)
	}
	return msgs, nil
}
