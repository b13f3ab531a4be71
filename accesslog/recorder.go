package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/glasshouse/glasshouse"
	"golang.org/x/mod/sumdb/note"
)

// RecorderStore is what a Recorder needs of the store: writing the access
// records, and the member secrets their tag keys are derived from.
// *sqlstore.Store implements it, as does every glasshouse.Store.
type RecorderStore interface {
	// glasshouse.AccessStore
	RecordAccess(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error)) error
	RecordWith(ctx context.Context, rec *glasshouse.AccessRecord, encode func(counter uint64, memberSecret []byte) ([]byte, error), do func(ctx context.Context, tx glasshouse.Within) error) error
	// glasshouse.AccountStore
	MemberSecret(ctx context.Context, memberID int64) ([]byte, error)
}

// Every glasshouse.Store is a RecorderStore.
var _ RecorderStore = glasshouse.Store(nil)

// RecorderConfig configures a Recorder. Store, MasterKey and Signer are
// required.
type RecorderConfig struct {
	Store RecorderStore
	// MasterKey is the server master key the member keys are derived from,
	// with each member's secret (at least MinMasterKeySize bytes). It MUST
	// NOT change for the life of the log: the members' earlier tags are
	// derived from it.
	MasterKey []byte
	// Signer is the log key's signer (Key.Signer): it signs the receipts.
	Signer note.Signer
	// Notify is called after every committed record, to wake the feeder
	// (Feeder.Notify); it must not block. Nil means none.
	Notify func()
	// Rand is where event ids come from; nil means crypto/rand.
	Rand io.Reader
}

// Recorder writes each Graph API access as an access record and a log
// entry, in one store transaction, and returns the entry's receipt. It is
// the Graph API's Recorder (graph.Recorder).
type Recorder struct {
	cfg RecorderConfig
}

// NewRecorder returns a Recorder.
func NewRecorder(c RecorderConfig) (*Recorder, error) {
	if c.Store == nil || c.Signer == nil {
		return nil, errors.New("recorder: Store and Signer are required")
	}
	if len(c.MasterKey) < MinMasterKeySize {
		return nil, fmt.Errorf("recorder: master key has %d bytes; at least %d are needed", len(c.MasterKey), MinMasterKeySize)
	}
	if c.Notify == nil {
		c.Notify = func() {}
	}
	return &Recorder{cfg: c}, nil
}

// Record gives rec a new event id, writes it with its log entry (tagged
// with the member's next counter) and returns the Glasshouse-Receipt value.
// An error means nothing was written, or that no receipt could be signed:
// either way the caller must send no data.
func (r *Recorder) Record(ctx context.Context, rec *glasshouse.AccessRecord) (receipt string, err error) {
	encode, entry, err := r.prepare(rec)
	if err != nil {
		return "", err
	}
	if err := r.cfg.Store.RecordAccess(ctx, rec, encode); err != nil {
		return "", fmt.Errorf("recorder: %w", err)
	}
	return r.committed(entry)
}

// RecordWith runs do and records rec in one transaction (see
// glasshouse.AccessStore.RecordWith) and returns the receipt. If do fails,
// nothing was written and its error returns as it is: the caller records
// the refusal with Record.
func (r *Recorder) RecordWith(ctx context.Context, rec *glasshouse.AccessRecord, do func(context.Context, glasshouse.Within) error) (receipt string, err error) {
	encode, entry, err := r.prepare(rec)
	if err != nil {
		return "", err
	}
	var doErr error
	err = r.cfg.Store.RecordWith(ctx, rec, encode, func(ctx context.Context, tx glasshouse.Within) error {
		doErr = do(ctx, tx)
		return doErr
	})
	if doErr != nil {
		return "", doErr
	} else if err != nil {
		return "", fmt.Errorf("recorder: %w", err)
	}
	return r.committed(entry)
}

// MemberKey returns the member's K_member: with it the member (or anyone
// they give it to) recomputes their tags and finds their entries in the
// log (MemberKey.FindTrail, glasshouse audit trail).
// Once the member's account is deleted there is no key: ENOTFOUND.
func (r *Recorder) MemberKey(ctx context.Context, memberID int64) (MemberKey, error) {
	secret, err := r.cfg.Store.MemberSecret(ctx, memberID)
	if err != nil {
		return MemberKey{}, fmt.Errorf("member key: %w", err)
	}
	return DeriveMemberKey(r.cfg.MasterKey, secret)
}

// encoded is the entry that a Recorder's encode function made last, in
// both forms.
type encoded struct {
	entry *Entry
	b     []byte
}

// prepare gives rec a fresh event id and returns the encode function for
// the store, which leaves the entry it encoded in *enc.
func (r *Recorder) prepare(rec *glasshouse.AccessRecord) (encode func(uint64, []byte) ([]byte, error), enc *encoded, err error) {
	id, err := NewEventID(r.cfg.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("recorder: %w", err)
	}
	rec.EventID = id
	enc = new(encoded)
	encode = func(counter uint64, secret []byte) ([]byte, error) {
		key, err := DeriveMemberKey(r.cfg.MasterKey, secret)
		if err != nil {
			return nil, err
		}
		e := EntryOf(rec, key.Tag(counter))
		b, err := e.MarshalBinary()
		*enc = encoded{entry: e, b: b}
		return b, err
	}
	return encode, enc, nil
}

// committed signs the receipt of a committed entry and wakes the feeder.
func (r *Recorder) committed(enc *encoded) (string, error) {
	r.cfg.Notify()
	receipt, err := signReceipt(r.cfg.Signer, enc.entry, enc.b)
	if err != nil {
		return "", fmt.Errorf("recorder: %w", err)
	}
	return receipt, nil
}

// EntryOf returns the log entry of an access record with the member's tag.
// The partner is named by its client id; the member only by tag.
func EntryOf(rec *glasshouse.AccessRecord, tag Tag) *Entry {
	d := Denied
	if rec.Granted {
		d = Granted
	}
	return &Entry{
		EventID:          rec.EventID,
		Time:             rec.At,
		PartnerID:        rec.ClientID,
		AgreementVersion: uint32(max(rec.AgreementVersion, 0)),
		Endpoint:         rec.Endpoint,
		Scopes:           rec.Scopes,
		Decision:         d,
		Reason:           rec.Reason,
		Items:            uint32(max(rec.Items, 0)),
		Tag:              tag,
	}
}

// OutboxStore is what StoreOutbox needs of the store: the outbox of log
// entries, and where each event's entry went. *sqlstore.Store implements
// it, as does every glasshouse.AccessStore.
type OutboxStore interface {
	// glasshouse.AccessStore
	EventLogIndex(ctx context.Context, eventID [16]byte) (index uint64, integrated bool, err error)
	LogSize(ctx context.Context) (uint64, error)
	MarkIntegrated(ctx context.Context, positions []glasshouse.LogPosition) error
	PendingEntries(ctx context.Context, limit int) ([]glasshouse.OutboxEntry, error)
}

// Every glasshouse.AccessStore is an OutboxStore.
var _ OutboxStore = glasshouse.AccessStore(nil)

// StoreOutbox is the store's access records seen as the feeder's Outbox
// and the handler's EventIndex.
type StoreOutbox struct {
	Store OutboxStore
}

var (
	_ Outbox     = StoreOutbox{}
	_ EventIndex = StoreOutbox{}
)

// Pending implements Outbox.
func (o StoreOutbox) Pending(ctx context.Context, limit int) ([]Pending, error) {
	rows, err := o.Store.PendingEntries(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, len(rows))
	for i, r := range rows {
		out[i] = Pending{EventID: r.EventID, Entry: r.Entry}
	}
	return out, nil
}

// Integrated implements Outbox.
func (o StoreOutbox) Integrated(ctx context.Context, assigned []Assigned) error {
	ps := make([]glasshouse.LogPosition, len(assigned))
	for i, a := range assigned {
		ps[i] = glasshouse.LogPosition{EventID: a.EventID, Index: a.Index}
	}
	return o.Store.MarkIntegrated(ctx, ps)
}

// LogSize implements Outbox.
func (o StoreOutbox) LogSize(ctx context.Context) (uint64, error) { return o.Store.LogSize(ctx) }

// EventLogIndex implements EventIndex.
func (o StoreOutbox) EventLogIndex(ctx context.Context, id EventID) (uint64, bool, error) {
	return o.Store.EventLogIndex(ctx, id)
}
