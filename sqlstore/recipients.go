package sqlstore

import (
	"math/rand/v2"
	"sync"
)

// A send must know every member of its conversation (to check the sender
// and to address the event), which for a group is up to 256 rows per
// message. The writer caches each conversation's members under the
// conversation's members_version: a random number that every membership
// change replaces. A cached entry is used only while the version read in the
// send's own transaction matches, so a change made by another node, or a
// change that was rolled back, can never be served from the cache: a rolled
// back version number is never written again.
type recipientCache struct {
	mu      sync.Mutex
	entries map[int64]*recipientSet // by conversation id
}

// recipientSet is one conversation's members at one version. It is shared
// and must not be modified. A block between two members of a conversation
// changes its version too (see bumpSharedConversations).
type recipientSet struct {
	version  int64
	ids      []int64
	handles  map[int64]string
	blockers map[int64][]int64 // by member: the members here who blocked them
}

// maxCachedConversations bounds the cache; past it the cache starts over.
const maxCachedConversations = 10000

func newMembersVersion() int64 { return rand.Int64() }

// recipients returns the members of a conversation at version, from the
// cache or the database.
func (t *tx) recipients(conversationID, version int64) (*recipientSet, error) {
	c := &t.s.recipients
	c.mu.Lock()
	rs := c.entries[conversationID]
	c.mu.Unlock()
	if rs != nil && rs.version == version {
		return rs, nil
	}
	rows, err := t.query(`SELECT m.id, m.handle FROM conversation_members cm JOIN members m ON m.id = cm.member_id
		WHERE cm.conversation_id = ?`, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rs = &recipientSet{version: version, handles: map[int64]string{}}
	for rows.Next() {
		var id int64
		var handle string
		if err := rows.Scan(&id, &handle); err != nil {
			return nil, err
		}
		rs.ids = append(rs.ids, id)
		rs.handles[id] = handle
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if rs.blockers, err = t.blockers(conversationID); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedConversations {
		c.entries = map[int64]*recipientSet{}
	}
	c.entries[conversationID] = rs
	c.mu.Unlock()
	return rs, nil
}

// blockers returns, for each member of a conversation whom another member
// of it blocked, those who blocked them.
func (t *tx) blockers(conversationID int64) (map[int64][]int64, error) {
	rows, err := t.query(`SELECT b.blocked_id, b.member_id FROM blocks b
		JOIN conversation_members x ON x.member_id = b.member_id AND x.conversation_id = ?
		JOIN conversation_members y ON y.member_id = b.blocked_id AND y.conversation_id = ?`, conversationID, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[int64][]int64
	for rows.Next() {
		var blocked, by int64
		if err := rows.Scan(&blocked, &by); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[int64][]int64{}
		}
		out[blocked] = append(out[blocked], by)
	}
	return out, rows.Err()
}

// bumpSharedConversations gives every conversation that a and b are both
// members of a new members_version, after a block between them changed who
// gets whose messages.
func (t *tx) bumpSharedConversations(a, b int64) error {
	_, err := t.exec(`UPDATE conversations SET members_version = ? WHERE id IN (
		SELECT x.conversation_id FROM conversation_members x
		JOIN conversation_members y ON y.conversation_id = x.conversation_id AND y.member_id = ?
		WHERE x.member_id = ?)`, newMembersVersion(), b, a)
	return err
}
