package glasshouse

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on conversations and messages.
const (
	MaxGroupMembers = 256
	MaxMessageBytes = 8 << 10
	MaxTitleLen     = 100
	MaxClientTxnID  = 64
	MaxPageSize     = 200
	DefaultPageSize = 50
)

// Conversation kinds.
const (
	Direct = "direct" // exactly two members, who must be friends
	Group  = "group"  // up to MaxGroupMembers; the creator adds friends
)

// Conversation is a 1:1 or group conversation as one member sees it.
type Conversation struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Title     string    `json:"title,omitempty"`
	CreatorID int64     `json:"creator_id"`
	Members   []*Member `json:"members"`
	LastSeq   int64     `json:"last_seq"`
	ReadSeq   int64     `json:"read_seq"` // the viewer's read marker
	Unread    int64     `json:"unread"`   // messages after ReadSeq not sent by the viewer
	CreatedAt time.Time `json:"created_at"`
}

// NewGroup is what a member submits to create a group.
type NewGroup struct {
	Title   string   `json:"title"`
	Members []string `json:"members"` // handles of the creator's friends
}

// Validate checks a new group's title (1 to MaxTitleLen characters of
// UTF-8, not only spaces, none of the characters checkLine refuses) and
// size (the creator counts).
func (g *NewGroup) Validate() error {
	if !utf8.ValidString(g.Title) || strings.TrimSpace(g.Title) == "" || utf8.RuneCountInString(g.Title) > MaxTitleLen {
		return Errorf(EINVALID, "Title must be 1 to %d characters of UTF-8.", MaxTitleLen)
	}
	if err := checkLine("Title", g.Title); err != nil {
		return err
	}
	if len(g.Members)+1 > MaxGroupMembers {
		return Errorf(ETOOLARGE, "A group holds at most %d members.", MaxGroupMembers)
	}
	return nil
}

// Message is one message in a conversation. ID is the global position: it
// grows in commit order across all conversations, so a stream resumes after
// the last ID it delivered. Seq numbers one conversation's messages 1, 2, 3…
// in commit order, without gaps.
type Message struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	Seq            int64     `json:"seq"`
	SenderID       int64     `json:"sender_id"`
	SenderHandle   string    `json:"sender_handle"`
	Text           string    `json:"text"`
	ClientTxnID    string    `json:"client_txn_id,omitempty"`
	ViaPartner     string    `json:"via_partner,omitempty"`    // partner app that sent it on the member's behalf
	SenderDeleted  bool      `json:"sender_deleted,omitempty"` // the sender deleted their account: Text and SenderHandle are empty
	CreatedAt      time.Time `json:"created_at"`
}

// NewMessage is a send request.
type NewMessage struct {
	ConversationID int64  `json:"-"`
	SenderID       int64  `json:"-"`
	Text           string `json:"text"`
	ClientTxnID    string `json:"client_txn_id"` // a retried send with the same id is stored once
	ViaPartner     string `json:"-"`
}

// Validate checks the text (1 byte to 8 KiB of valid UTF-8, not only
// white space, no control characters but tab and line breaks) and the
// client transaction id (at most 64 printable ASCII bytes).
func (m *NewMessage) Validate() error {
	if len(m.Text) == 0 {
		return Errorf(EINVALID, "Message text must not be empty.")
	}
	if len(m.Text) > MaxMessageBytes {
		return Errorf(ETOOLARGE, "Message text must be at most %d bytes.", MaxMessageBytes)
	}
	if !utf8.ValidString(m.Text) {
		return Errorf(EINVALID, "Message text must be valid UTF-8.")
	}
	if strings.TrimFunc(m.Text, unicode.IsSpace) == "" {
		return Errorf(EINVALID, "Message text must not be only spaces or line breaks.")
	}
	if strings.ContainsFunc(m.Text, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
		return Errorf(EINVALID, "Message text must not contain control characters.")
	}
	if len(m.ClientTxnID) > MaxClientTxnID {
		return Errorf(EINVALID, "client_txn_id must be at most %d bytes.", MaxClientTxnID)
	}
	for _, c := range []byte(m.ClientTxnID) {
		if c < 0x21 || c > 0x7e {
			return Errorf(EINVALID, "client_txn_id must be printable ASCII without spaces.")
		}
	}
	return nil
}

// MessageQuery pages one conversation's history by Seq. Backward (the
// default) it returns the Limit messages just below Before (0: from the
// newest), newest first; Forward, the Limit messages just above After (0:
// from the first), oldest first. Before with Forward, or After without it, is
// EINVALID. Limit 0 means DefaultPageSize; more than MaxPageSize is EINVALID.
type MessageQuery struct {
	ConversationID int64
	MemberID       int64
	Forward        bool
	Before         int64
	After          int64
	Limit          int
}

// MessagePage is one page of history. Messages deleted for the viewer are
// left out. Next is the cursor to pass on for the following page in the same
// direction (0 when there is none).
type MessagePage struct {
	Messages []*Message `json:"messages"`
	Next     int64      `json:"next,omitempty"`
}

// ConversationStore keeps conversations and their messages.
//
// Every method that takes a memberID acts as that member: a conversation the
// member does not belong to is ENOTFOUND, never EFORBIDDEN, so that ids do not
// leak.
type ConversationStore interface {
	// CreateDirect returns the 1:1 conversation between memberID and the
	// member with handle other, creating it if needed (created reports
	// which). EINVALID for oneself, ENOTFOUND if absent or blocked,
	// EFORBIDDEN if not friends.
	CreateDirect(ctx context.Context, memberID int64, other string) (c *Conversation, created bool, err error)
	// CreateGroup creates a group of memberID and the given friends.
	// ENOTFOUND for an unknown or blocked handle, EFORBIDDEN for a
	// non-friend, ETOOLARGE over MaxGroupMembers.
	CreateGroup(ctx context.Context, memberID int64, g NewGroup) (*Conversation, error)
	// AddMember adds a friend of the creator to a group; only the creator
	// may. ENOTFOUND, EFORBIDDEN (not creator, not a friend, a direct
	// conversation), ECONFLICT if already a member, ETOOLARGE when full.
	AddMember(ctx context.Context, memberID, conversationID int64, handle string) error
	// Leave removes memberID from a group. EFORBIDDEN for a direct
	// conversation, ENOTFOUND if not a member.
	Leave(ctx context.Context, memberID, conversationID int64) error
	// Conversation returns one conversation as memberID sees it.
	Conversation(ctx context.Context, memberID, conversationID int64) (*Conversation, error)
	// Conversations lists memberID's conversations, most recent activity
	// first, with unread counts.
	Conversations(ctx context.Context, memberID int64) ([]*Conversation, error)
	// SendMessage stores a validated message. A repeat of the same
	// (sender, conversation, ClientTxnID) returns the stored message and
	// created=false. ENOTFOUND if not a member; EFORBIDDEN in a direct
	// conversation whose members are no longer friends or block each other.
	// On commit the store publishes an Event to its Publisher.
	SendMessage(ctx context.Context, m NewMessage) (msg *Message, created bool, err error)
	// Messages returns one page of history. EINVALID for a bad query,
	// ENOTFOUND if not a member.
	Messages(ctx context.Context, q MessageQuery) (*MessagePage, error)
	// MarkRead moves memberID's read marker forward to seq (never back).
	// EINVALID if seq is beyond the last message, ENOTFOUND if not a member.
	MarkRead(ctx context.Context, memberID, conversationID, seq int64) error
	// DeleteForMe hides one message from memberID only. ENOTFOUND if not a
	// member or no such message.
	DeleteForMe(ctx context.Context, memberID, conversationID, seq int64) error
	// MessagesAfter returns up to limit messages with ID > after from every
	// conversation memberID belongs to, in ID order: what a reconnecting
	// stream missed.
	MessagesAfter(ctx context.Context, memberID, after int64, limit int) ([]*Message, error)
	// LatestMessages returns the newest message of each of memberID's
	// conversations, leaving out those memberID deleted for themselves, by
	// conversation id: what the conversations list previews. A
	// conversation without such a message has no entry.
	LatestMessages(ctx context.Context, memberID int64) (map[int64]*Message, error)
}
