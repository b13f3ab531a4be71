package sqlstore

import (
	"context"
	"fmt"

	"github.com/glasshouse/glasshouse"
)

// These reads let a hub that is fed by other nodes (package natshub) find
// the events it missed: the database, not the feed, is the record of what
// was committed.

// LastMessageID returns the id of the newest committed message, 0 if
// there is none. Committed message ids have no gaps (see batch), so every
// id up to it belongs to a committed message.
func (s *Store) LastMessageID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.read(ctx).queryRow(`SELECT value FROM counters WHERE name = 'message'`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last message id: %w", err)
	}
	return id, nil
}

// EventsAfter returns, in id order, the events of up to limit committed
// messages with an id above after, as the store published them when they
// committed, with their recipients read now: the members of the
// conversation, less those who blocked the sender or deleted the message
// for themselves (what MessagesAfter would show each of them). through is
// the id up to which the answer is complete: every message with an id in
// (after, through] that exists is among events. A limit outside 1 to 1000
// means 1000.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) (events []glasshouse.Event, through int64, err error) {
	if limit <= 0 || limit > maxEventsPage {
		limit = maxEventsPage
	}
	err = s.view(ctx, func(t *tx) error {
		// The counter first: everything up to it has committed, and the
		// reads below see at least that much (one snapshot on PostgreSQL,
		// and a later one anyway on a read-committed database).
		if err := t.queryRow(`SELECT value FROM counters WHERE name = 'message'`).Scan(&through); err != nil {
			return err
		}
		if through <= after {
			through = after
			return nil
		}
		msgs, err := t.messages(`SELECT `+messageColumns+`
			FROM messages m JOIN members s ON s.id = m.sender_id
			WHERE m.id > ? AND m.id <= ? ORDER BY m.id LIMIT ?`, after, through, limit)
		if err != nil {
			return err
		}
		if len(msgs) == limit {
			through = msgs[len(msgs)-1].ID
		}
		if len(msgs) == 0 {
			return nil
		}
		rows, err := t.query(`SELECT m.id, cm.member_id FROM messages m
			JOIN conversation_members cm ON cm.conversation_id = m.conversation_id
			WHERE m.id > ? AND m.id <= ?
			AND NOT EXISTS(SELECT 1 FROM blocks b WHERE b.member_id = cm.member_id AND b.blocked_id = m.sender_id)
			AND NOT EXISTS(SELECT 1 FROM hidden_messages h
				WHERE h.member_id = cm.member_id AND h.conversation_id = m.conversation_id AND h.seq = m.seq)
			ORDER BY m.id, cm.member_id`, after, through)
		if err != nil {
			return err
		}
		defer rows.Close()
		recipients := make(map[int64][]int64, len(msgs))
		for rows.Next() {
			var id, member int64
			if err := rows.Scan(&id, &member); err != nil {
				return err
			}
			recipients[id] = append(recipients[id], member)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		events = make([]glasshouse.Event, len(msgs))
		for i, m := range msgs {
			events[i] = glasshouse.Event{Message: m, Recipients: recipients[m.ID]}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("events after %d: %w", after, err)
	}
	return events, through, nil
}

// maxEventsPage bounds one EventsAfter answer.
const maxEventsPage = 1000
