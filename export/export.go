package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"golang.org/x/mod/sumdb/note"
)

// Log is the transparency log that access events are proved against: the
// latest checkpoint, and the tiles and entry bundles that proofs are built
// from. *accesslog.Log implements it (it is the interface web.AccessLog).
type Log interface {
	accesslog.TileReader
	// Checkpoint returns the latest published checkpoint, its signature
	// checked; an error wrapping fs.ErrNotExist before the first.
	Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error)
}

// Config configures an Exporter. Store is required.
type Config struct {
	Store Store
	// Log, when set, adds to each access event in the log's latest
	// checkpoint its entry and inclusion proof, and puts the checkpoint
	// (checkpoint.txt) and LogKey (log-key.txt) into the zip. Nil leaves
	// entries, proofs and both files out.
	Log Log
	// LogKey is the log's verifier key in note form, as GET /log/key
	// serves it (accesslog.Key.VerifierKey). It is required with Log:
	// Write checks the checkpoint against it before writing anything.
	LogKey string
	// MemberKey returns a member's log tag key (accesslog.Recorder's
	// MemberKey): access.json then carries it, so that the member can find
	// their own entries in the log (glasshouse audit trail), and each
	// entry exported is checked to carry the member's tag. Nil leaves both
	// out.
	MemberKey func(ctx context.Context, memberID int64) (accesslog.MemberKey, error)
	// Now dates the export; nil means time.Now.
	Now func() time.Time
}

// Exporter writes members' data exports. It is safe for concurrent use.
type Exporter struct {
	store    Store
	log      Log
	logKey   string
	verifier note.Verifier
	keyOf    func(ctx context.Context, memberID int64) (accesslog.MemberKey, error)
	now      func() time.Time
}

// New returns an Exporter. It panics when Store is nil, or when Log is set
// without a valid LogKey: both are wiring mistakes.
func New(c Config) *Exporter {
	if c.Store == nil {
		panic("export: Config.Store is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	e := &Exporter{store: c.Store, log: c.Log, logKey: c.LogKey, keyOf: c.MemberKey, now: c.Now}
	if c.Log != nil {
		v, err := accesslog.NewVerifier(c.LogKey)
		if err != nil {
			panic(fmt.Sprintf("export: Config.LogKey: %v", err))
		}
		e.verifier = v
	}
	return e
}

// Names of the files in the zip.
const (
	readmeFile        = "README.txt"
	indexFile         = "index.html"
	profileFile       = "profile.json"
	friendsFile       = "friends.json"
	grantsFile        = "grants.json"
	conversationsFile = "conversations.json"
	accessFile        = "access.json"
	checkpointFile    = "checkpoint.txt"
	logKeyFile        = "log-key.txt"
)

// messagesFile names the file of one conversation's messages.
func messagesFile(conversationID int64) string {
	return "messages/" + strconv.FormatInt(conversationID, 10) + ".json"
}

// Write writes memberID's data export to w as a zip (its layout is in
// templates/README.txt, which becomes the zip's README.txt). It streams:
// the zip goes out as the store is read, one page of messages or access
// events at a time.
//
// Before writing its first byte, Write looks the member up and reads and
// checks the log's checkpoint: ENOTFOUND for an unknown member, or any error
// there, leaves w untouched, so the caller can still answer with an error
// page. An error after that (the store or the log failing, ctx ending)
// returns at once and leaves on w an incomplete zip without its central
// directory, which no unzip tool accepts. A caller that streams straight to
// an HTTP response has by then sent its headers and must abort the response
// (panic(http.ErrAbortHandler)) so that the browser reports a failed
// download; a caller that buffers (a temporary file) must discard the
// buffer and answer with an error.
func (e *Exporter) Write(ctx context.Context, memberID int64, w io.Writer) error {
	me, err := e.store.MemberByID(ctx, memberID)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	cp, err := e.checkpoint(ctx)
	if err != nil {
		return err
	}
	r := &run{Exporter: e, ctx: ctx, me: me, cp: cp, at: e.now().UTC(), zw: zip.NewWriter(w)}
	if e.keyOf != nil {
		k, err := e.keyOf(ctx, memberID)
		if err != nil {
			return fmt.Errorf("export: member key: %w", err)
		}
		r.key = &k
	}
	for _, step := range []func() error{
		r.writeReadme, r.writeProfile, r.writeFriends, r.writeGrants,
		r.writeMessages, r.writeConversations, r.writeAccess, r.writeLogFiles,
		r.writeIndex,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	if err := r.zw.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// checkpoint returns the log's latest checkpoint, checked against the
// configured key; nil without a log or before its first checkpoint.
func (e *Exporter) checkpoint(ctx context.Context) (*accesslog.Checkpoint, error) {
	if e.log == nil {
		return nil, nil
	}
	cp, err := e.log.Checkpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("export: checkpoint: %w", err)
	}
	// The member will check it with log-key.txt: make sure that works.
	if _, err := accesslog.OpenCheckpoint(cp.Raw, e.verifier); err != nil {
		return nil, fmt.Errorf("export: the log's checkpoint does not verify under Config.LogKey: %w", err)
	}
	return cp, nil
}

// run is one Write: where it writes, and what the JSON files held, for
// the summary in index.html.
type run struct {
	*Exporter
	ctx context.Context
	me  *glasshouse.Member
	cp  *accesslog.Checkpoint
	at  time.Time
	zw  *zip.Writer
	key *accesslog.MemberKey // the member's tag key, if configured

	friends       *friends
	grants        []grantView
	conversations []conversationView
	access        accessSummary
}

// create starts the next file in the zip.
func (r *run) create(name string) (io.Writer, error) {
	w, err := r.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: r.at})
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", name, err)
	}
	return w, nil
}

// writeJSON writes v, indented, as the file name.
func (r *run) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	return r.writeFile(name, append(b, '\n'))
}

func (r *run) writeFile(name string, b []byte) error {
	w, err := r.create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	return nil
}

func (r *run) writeProfile() error {
	return r.writeJSON(profileFile, r.me)
}

// friends is friends.json. The store shows each other member as the
// exporting member sees them.
type friends struct {
	Friends  []*glasshouse.Member       `json:"friends"`
	Requests *glasshouse.FriendRequests `json:"requests"`
	Blocked  []*glasshouse.Member       `json:"blocked"`
}

func (r *run) writeFriends() error {
	var f friends
	var err error
	if f.Friends, err = r.store.Friends(r.ctx, r.me.ID); err != nil {
		return fmt.Errorf("export: friends: %w", err)
	}
	if f.Requests, err = r.store.FriendRequests(r.ctx, r.me.ID); err != nil {
		return fmt.Errorf("export: friend requests: %w", err)
	}
	if f.Blocked, err = r.store.Blocked(r.ctx, r.me.ID); err != nil {
		return fmt.Errorf("export: blocked: %w", err)
	}
	r.friends = &f
	return r.writeJSON(friendsFile, f)
}

// grantView is one connected app in grants.json.
type grantView struct {
	*glasshouse.Grant
	ClientID string `json:"client_id,omitempty"` // how the log names the partner
	Live     bool   `json:"live"`                // false once the consent expired
	// Agreement is the partner's current approved agreement: its purpose,
	// retention and expiry (the grant's agreement_version says which
	// version the member consented to).
	Agreement *glasshouse.Agreement `json:"current_agreement,omitempty"`
}

func (r *run) writeGrants() error {
	grants, err := r.store.Grants(r.ctx, r.me.ID)
	if err != nil {
		return fmt.Errorf("export: grants: %w", err)
	}
	clientIDs := map[int64]string{}
	if len(grants) > 0 {
		partners, err := r.store.Partners(r.ctx)
		if err != nil {
			return fmt.Errorf("export: partners: %w", err)
		}
		for _, p := range partners {
			clientIDs[p.ID] = p.ClientID
		}
	}
	r.grants = make([]grantView, 0, len(grants))
	for _, g := range grants {
		v := grantView{Grant: g, ClientID: clientIDs[g.PartnerID], Live: g.Live(r.at)}
		a, err := r.store.CurrentAgreement(r.ctx, g.PartnerID)
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return fmt.Errorf("export: agreement of partner %d: %w", g.PartnerID, err)
		}
		v.Agreement = a
		r.grants = append(r.grants, v)
	}
	return r.writeJSON(grantsFile, r.grants)
}

// conversationView is one conversation in conversations.json.
type conversationView struct {
	*glasshouse.Conversation
	MessagesFile string `json:"messages_file"`
	Messages     int    `json:"messages"` // how many the file holds
	Name         string `json:"-"`        // the heading in index.html
	lastSeq      int64  // the Seq of the file's last message
}

// conversationName is a group's title, or for a direct conversation the
// other member's handle.
func conversationName(c *glasshouse.Conversation, me int64) string {
	if c.Kind == glasshouse.Group {
		return c.Title
	}
	for _, m := range c.Members {
		if m.ID != me {
			return "Conversation with @" + m.Handle
		}
	}
	return "Conversation"
}

// writeMessages writes one messages file per conversation of the member.
func (r *run) writeMessages() error {
	convs, err := r.store.Conversations(r.ctx, r.me.ID)
	if err != nil {
		return fmt.Errorf("export: conversations: %w", err)
	}
	r.conversations = make([]conversationView, 0, len(convs))
	for _, c := range convs {
		v := conversationView{Conversation: c, MessagesFile: messagesFile(c.ID), Name: conversationName(c, r.me.ID)}
		w, err := r.create(v.MessagesFile)
		if err != nil {
			return err
		}
		list := jsonList{w: w}
		err = r.eachMessage(c.ID, math.MaxInt64, func(m *glasshouse.Message) error {
			v.Messages++
			v.lastSeq = m.Seq
			return list.add(m)
		})
		if err == nil {
			err = list.end("\n")
		}
		if err != nil {
			return fmt.Errorf("export: %s: %w", v.MessagesFile, err)
		}
		r.conversations = append(r.conversations, v)
	}
	return nil
}

func (r *run) writeConversations() error {
	return r.writeJSON(conversationsFile, r.conversations)
}

// eachMessage calls fn with each message of the conversation that the
// member can see, up to seq last, in seq order, reading the store one page
// at a time. A conversation the member left meanwhile ends early.
func (r *run) eachMessage(conversationID, last int64, fn func(*glasshouse.Message) error) error {
	var after int64
	for {
		page, err := r.store.Messages(r.ctx, glasshouse.MessageQuery{
			ConversationID: conversationID, MemberID: r.me.ID, Forward: true, After: after, Limit: glasshouse.MaxPageSize,
		})
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			return nil // left (or removed) since the conversations were listed
		} else if err != nil {
			return err
		}
		for _, m := range page.Messages {
			if m.Seq > last {
				return nil
			}
			if m.SenderID != r.me.ID {
				m.ClientTxnID = "" // the other client's retry key is not the member's data
			}
			if err := fn(m); err != nil {
				return err
			}
		}
		if page.Next == 0 {
			return nil
		} else if page.Next <= after {
			return fmt.Errorf("messages: page after %d returned cursor %d", after, page.Next)
		}
		after = page.Next
	}
}

// jsonList writes an indented JSON array to w one element at a time;
// prefix is the indentation of the line the array starts on.
type jsonList struct {
	w      io.Writer
	prefix string
	n      int
}

func (l *jsonList) add(v any) error {
	b, err := json.MarshalIndent(v, l.prefix+"  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n"
	if l.n == 0 {
		sep = "[\n"
	}
	l.n++
	_, err = io.WriteString(l.w, sep+l.prefix+"  "+string(b))
	return err
}

// end closes the array, followed by after.
func (l *jsonList) end(after string) error {
	end := "\n" + l.prefix + "]"
	if l.n == 0 {
		end = "[]"
	}
	_, err := io.WriteString(l.w, end+after)
	return err
}

func (r *run) writeLogFiles() error {
	if r.log == nil {
		return nil
	}
	if r.cp != nil {
		if err := r.writeFile(checkpointFile, r.cp.Raw); err != nil {
			return err
		}
	}
	return r.writeFile(logKeyFile, []byte(r.logKey+"\n"))
}
