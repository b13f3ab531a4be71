package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// A send reads its conversation, checks the sender, seals the text, inserts
// the message and moves the conversation's last_seq. Sends that the writer
// finds queued one after another run together (see runSends): one
// statement per chunk of sends reads what each needs, one inserts their
// messages and one moves their conversations. On PostgreSQL the reads go in
// one round trip and the writes in another (see Dialect.Pipeline), whatever
// the run's length: there a round trip, more than the work, is what a
// statement costs. On SQLite fewer statements are less CPU. A single send,
// and a send within another operation (RecordWith), is a run of one.

// send is one SendMessage: its request and, once run, its outcome.
type send struct {
	nm      glasshouse.NewMessage
	msg     *glasshouse.Message
	created bool
	event   glasshouse.Event // to publish, if created
	err     error            // refused: the sends around it are unaffected
}

// SendMessage stores a message and, once it has committed, publishes its
// Event. A repeat of a (conversation, sender, ClientTxnID) returns the
// stored message with created false.
func (s *Store) SendMessage(ctx context.Context, nm glasshouse.NewMessage) (*glasshouse.Message, bool, error) {
	// The limits protect the database, so they hold whatever the caller did.
	if err := nm.Validate(); err != nil {
		return nil, false, fmt.Errorf("send message: %w", err)
	}
	if err := s.loadKEK(ctx); err != nil {
		return nil, false, fmt.Errorf("send message: %w", err)
	}
	sd := &send{nm: nm}
	err := s.submit(&op{ctx: ctx, send: sd, fn: func(t *tx) error {
		sd.msg, sd.created, sd.err = t.sendMessage(sd.nm)
		return sd.err
	}})
	if err != nil {
		return nil, false, fmt.Errorf("send message: %w", err)
	}
	return sd.msg, sd.created, nil
}

// sendMessage runs one send in t and publishes its event.
func (t *tx) sendMessage(nm glasshouse.NewMessage) (*glasshouse.Message, bool, error) {
	sd := &send{nm: nm}
	if err := t.sendMessages([]*send{sd}); err != nil {
		return nil, false, err
	} else if err := t.flush(); err != nil {
		return nil, false, err
	} else if sd.err != nil {
		return nil, false, sd.err
	}
	if sd.created {
		t.publish(sd.event)
	}
	return sd.msg, sd.created, nil
}

// runSends runs a run of queued sends in bt's transaction, under one
// savepoint, and reports whether it did. If it did not (a statement failed,
// or anything but a send's own refusal went wrong), nothing of the run is
// left and the caller runs its ops one by one, as every other op, so that a
// failure is its op's alone. The error means the transaction is unusable.
//
// On PostgreSQL a run takes two round trips: the savepoint and the reads
// (with the batch's lock, if the run comes first), then the writes, the
// message counter and the release of the savepoint.
func (s *Store) runSends(bt *tx, ops []*op) (ok bool, err error) {
	var sends []*send
	var sent []*op
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		o.send.msg, o.send.created, o.send.err = nil, false, nil
		sends = append(sends, o.send)
		sent = append(sent, o)
	}
	if len(sends) == 0 {
		return true, nil
	}
	sp := bt.savepoint("sends")
	err = bt.sendMessages(sends)
	if err == nil {
		bt.saveMessageCounter()
		sp.release()
		err = bt.flush()
	}
	if err != nil {
		return false, sp.rollback() // the ids are handed out again, one by one
	}
	for i, o := range sent {
		if sd := sends[i]; sd.err != nil {
			o.err = sd.err
		} else if sd.created {
			o.events = []glasshouse.Event{sd.event}
		}
	}
	return true, nil
}

// sendsAhead returns how many ops at the start of ops are sends.
func sendsAhead(ops []*op) int {
	for i, o := range ops {
		if o.send == nil {
			return i
		}
	}
	return len(ops)
}

// sendMessages runs sends in order, as if one after another: a send sees
// the messages of the sends before it. A send's refusal (no such
// conversation, not friends) is left in its err; the error returned is
// anything else, and leaves t's writes incomplete: the caller rolls back.
// The writes are queued (see later): the caller runs them, and only then
// are the sends done.
func (t *tx) sendMessages(sends []*send) error {
	facts, err := t.sendFacts(sends)
	if err != nil {
		return err
	}
	type txn struct {
		conversationID, senderID int64
		id                       string
	}
	var (
		convs     = map[int64]*sendConversation{}
		moved     []*sendConversation      // in the order first sent to
		keys      = map[int64]*memberKey{} // by sender
		sentHere  = map[txn]*glasshouse.Message{}
		stored    []*glasshouse.Message
		storedTxn []sql.NullString
		bodies    [][]byte
	)
	for i, sd := range sends {
		nm, f := sd.nm, facts[i]
		if f == nil {
			sd.err = errNoConversation()
			continue
		}
		c := convs[nm.ConversationID]
		if c == nil {
			c = &sendConversation{id: nm.ConversationID, kind: f.kind, lastSeq: f.lastSeq}
			if c.rs, err = t.recipients(nm.ConversationID, f.membersVersion); err != nil {
				return err
			}
			convs[nm.ConversationID] = c
		}
		senderHandle, ok := c.rs.handles[nm.SenderID]
		if !ok {
			sd.err = errNoConversation()
			continue
		}
		// A repeat returns the stored message, whether or not the two
		// are still friends.
		key := txn{nm.ConversationID, nm.SenderID, nm.ClientTxnID}
		if nm.ClientTxnID != "" {
			if m := sentHere[key]; m != nil {
				sd.msg = new(*m)
				continue
			} else if f.repeat {
				if sd.msg, err = t.messageByTxn(nm); err != nil {
					return fmt.Errorf("stored message: %w", err)
				}
				continue
			}
		}
		// With the other member of a direct conversation, who may have
		// deleted their account.
		if c.kind == glasshouse.Direct && !f.friends {
			sd.err = glasshouse.Errorf(glasshouse.EFORBIDDEN, "You can only message friends.")
			continue
		}
		recipients := c.rs.ids
		if blockers := c.rs.blockers[nm.SenderID]; len(blockers) > 0 {
			// Members who blocked the sender do not get the message live.
			recipients = slices.DeleteFunc(slices.Clone(recipients), func(id int64) bool { return slices.Contains(blockers, id) })
		}
		// The sender is a member of the conversation, so not deleted; one
		// from before member secrets gets one now.
		k := keys[nm.SenderID]
		if k == nil {
			if k, err = t.senderKey(nm.SenderID, f.sender); err != nil {
				return err
			}
			keys[nm.SenderID] = k
		}
		now := t.s.now()
		msg := &glasshouse.Message{
			ConversationID: nm.ConversationID,
			Seq:            c.lastSeq + 1,
			SenderID:       nm.SenderID,
			SenderHandle:   senderHandle,
			Text:           nm.Text,
			ClientTxnID:    nm.ClientTxnID,
			ViaPartner:     nm.ViaPartner,
			CreatedAt:      now,
		}
		if msg.ID, err = t.nextMessageID(); err != nil {
			return err
		}
		if !c.moved {
			c.moved = true
			moved = append(moved, c)
		}
		c.lastSeq, c.lastActivity = msg.Seq, micros(now)
		var txnID sql.NullString
		if nm.ClientTxnID != "" {
			sentHere[key] = msg
			txnID = sql.NullString{String: nm.ClientTxnID, Valid: true}
		}
		// The text is stored sealed in body only (see unseal).
		stored = append(stored, msg)
		storedTxn = append(storedTxn, txnID)
		bodies = append(bodies, k.seal(msg.ConversationID, msg.Seq, msg.Text))
		sd.msg, sd.created = msg, true
		published := *msg
		sd.event = glasshouse.Event{Message: &published, Recipients: recipients}
	}
	t.insertMessages(stored, storedTxn, bodies)
	t.moveConversations(moved)
	return nil
}

// sendConversation is a conversation that a run of sends sends to.
type sendConversation struct {
	id           int64
	kind         string
	lastSeq      int64 // of the last message sent to it so far
	lastActivity int64 // when that message was sent, in micros
	rs           *recipientSet
	moved        bool // a message was sent to it
}

// sendFact is what one send needs to know from the database.
type sendFact struct {
	kind           string
	lastSeq        int64
	membersVersion int64
	friends        bool // in a direct conversation: the sender is the friend of another member
	repeat         bool // a message of this (conversation, sender, ClientTxnID) is stored
	sender         memberKeyRow
}

// sendChunk is the most rows one statement of a run reads or writes. A
// statement takes a power of two of them, so that each statement has a few
// forms, each prepared once: a run of 13 sends is read by statements of 8,
// 4 and 1 rows, in one round trip on PostgreSQL.
const sendChunk = 64

// chunks splits n rows into chunks of sendChunk rows or a smaller power
// of two, largest first.
func chunks(n int) iter.Seq2[int, int] {
	return func(yield func(start, end int) bool) {
		for start := 0; start < n; {
			size := sendChunk
			for size > n-start {
				size /= 2
			}
			if !yield(start, start+size) {
				return
			}
			start += size
		}
	}
}

// sendFacts reads what each send needs: nil for a send to a conversation
// that does not exist.
func (t *tx) sendFacts(sends []*send) ([]*sendFact, error) {
	facts := make([]*sendFact, len(sends))
	var stmts []*Statement
	for start, end := range chunks(len(sends)) {
		args := make([]any, 0, 4*(end-start))
		for i, sd := range sends[start:end] {
			var txn sql.NullString
			if sd.nm.ClientTxnID != "" {
				txn = sql.NullString{String: sd.nm.ClientTxnID, Valid: true}
			}
			args = append(args, start+i, sd.nm.ConversationID, sd.nm.SenderID, txn)
		}
		stmts = append(stmts, &Statement{Query: sendFactsQuery[end-start], Args: args, Row: func(r interface{ Scan(...any) error }) error {
			var i int
			f := &sendFact{sender: memberKeyRow{found: true}}
			if err := r.Scan(&i, &f.kind, &f.lastSeq, &f.membersVersion, &f.friends, &f.repeat,
				&f.sender.deleted, &f.sender.wrapped); err != nil {
				return err
			}
			facts[i] = f
			return nil
		}})
	}
	if err := t.pipe(stmts...); err != nil {
		return nil, err
	}
	return facts, nil
}

// insertMessages queues inserting new messages, with their client
// transaction ids and sealed bodies.
func (t *tx) insertMessages(msgs []*glasshouse.Message, txns []sql.NullString, bodies [][]byte) {
	for start, end := range chunks(len(msgs)) {
		args := make([]any, 0, 8*(end-start))
		for i := start; i < end; i++ {
			m := msgs[i]
			args = append(args, m.ID, m.ConversationID, m.Seq, m.SenderID, bodies[i], txns[i], m.ViaPartner, micros(m.CreatedAt))
		}
		t.later(&Statement{Query: insertMessagesQuery[end-start], Args: args})
	}
}

// moveConversations queues storing the last_seq and last_activity_at of
// the conversations sent to. Write transactions run one at a time (see
// Dialect.SerializeWrites), so the last_seq read before is still the last;
// the unique (conversation_id, seq) of messages would refuse a clash anyway.
func (t *tx) moveConversations(convs []*sendConversation) {
	for start, end := range chunks(len(convs)) {
		args := make([]any, 0, 3*(end-start))
		for _, c := range convs[start:end] {
			args = append(args, c.id, c.lastSeq, c.lastActivity)
		}
		t.later(&Statement{Query: moveConversationsQuery[end-start], Args: args})
	}
}

// bySize holds a statement's text for each chunk size, 1, 2, 4, …, sendChunk.
type bySize map[int]string

func forSizes(query func(n int) string) bySize {
	qs := bySize{}
	for n := 1; n <= sendChunk; n *= 2 {
		qs[n] = query(n)
	}
	return qs
}

// valuesRows repeats row n times, separated by commas.
func valuesRows(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// The parameters in a VALUES list outside an INSERT are cast to their
// column's type: PostgreSQL could not tell it otherwise. The facts of a
// send are scalar subqueries, not EXISTS: PostgreSQL may run an EXISTS over
// several rows as one hash of the whole table (all the messages), and keep
// that plan, made while the table was small, as it grows.
var (
	sendFactsQuery = forSizes(func(n int) string {
		return `WITH v (i, conversation_id, sender_id, client_txn_id) AS (VALUES ` +
			valuesRows(`(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT))`, n) + `)
		SELECT v.i, c.kind, c.last_seq, c.members_version,
			CASE WHEN c.kind = '` + glasshouse.Direct + `' THEN (SELECT 1 FROM conversation_members o
				JOIN friendships f ON f.member_id = v.sender_id AND f.friend_id = o.member_id
				WHERE o.conversation_id = v.conversation_id AND o.member_id <> v.sender_id LIMIT 1) IS NOT NULL
				ELSE FALSE END,
			(SELECT 1 FROM messages m WHERE m.conversation_id = v.conversation_id
				AND m.sender_id = v.sender_id AND m.client_txn_id = v.client_txn_id) IS NOT NULL,
			s.deleted_at, k.wrapped
		FROM v JOIN conversations c ON c.id = v.conversation_id
		JOIN members s ON s.id = v.sender_id
		LEFT JOIN member_keys k ON k.member_id = v.sender_id`
	})
	// The messages are new (sendFacts found no repeat), so a conflict is
	// an error.
	insertMessagesQuery = forSizes(func(n int) string {
		return `INSERT INTO messages (id, conversation_id, seq, sender_id, text, body, client_txn_id, via_partner, created_at)
		VALUES ` + valuesRows(`(?, ?, ?, ?, '', ?, ?, ?, ?)`, n)
	})
	moveConversationsQuery = forSizes(func(n int) string {
		return `WITH v (id, last_seq, last_activity_at) AS (VALUES ` +
			valuesRows(`(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))`, n) + `)
		UPDATE conversations SET last_seq = v.last_seq, last_activity_at = v.last_activity_at
		FROM v WHERE conversations.id = v.id`
	})
)

// messageByTxn returns the message nm repeats, or sql.ErrNoRows.
func (t *tx) messageByTxn(nm glasshouse.NewMessage) (*glasshouse.Message, error) {
	return t.message(`SELECT `+messageColumns+`
		FROM messages m JOIN members s ON s.id = m.sender_id
		WHERE m.conversation_id = ? AND m.sender_id = ? AND m.client_txn_id = ?`,
		nm.ConversationID, nm.SenderID, nm.ClientTxnID)
}
