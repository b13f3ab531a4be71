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
// and must not be modified.
type recipientSet struct {
	version int64
	ids     []int64
	handles map[int64]string
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
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedConversations {
		c.entries = map[int64]*recipientSet{}
	}
	c.entries[conversationID] = rs
	c.mu.Unlock()
	return rs, nil
}
