package accesslog

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Statuses of a member's access event.
const (
	StatusPending    = "pending"    // waiting in the outbox for the log
	StatusIntegrated = "integrated" // in the log at LogIndex; the next checkpoint (within seconds) covers it
	StatusIncluded   = "included"   // the checkpoint covers it: entry and proof can be given
)

// MemberEvent is one access record as its member sees it: in GET
// /api/v1/me/access, the privacy center and the data export.
type MemberEvent struct {
	Counter          uint64    `json:"counter"`
	EventID          string    `json:"event_id"`
	PartnerID        int64     `json:"partner_id"`
	ClientID         string    `json:"client_id"`
	PartnerName      string    `json:"partner_name,omitempty"`
	AgreementVersion int       `json:"agreement_version"`
	Endpoint         string    `json:"endpoint"`
	Scopes           []string  `json:"scopes"`
	Decision         string    `json:"decision"` // "granted" or "denied"
	Reason           string    `json:"reason,omitempty"`
	Items            int       `json:"items"`
	Time             time.Time `json:"time"` // to the minute, as logged
	Status           string    `json:"status"`
	LogIndex         *uint64   `json:"log_index,omitempty"`
	// Entry is the canonical log entry (docs/log-format.md) and Proof its
	// RFC 6962 inclusion proof in the checkpoint's tree; both only when
	// Status is "included" and the proof was asked for. Proof is [] in a
	// tree of one entry.
	Entry []byte   `json:"entry,omitzero"`
	Proof [][]byte `json:"proof,omitzero"`
}

// PartnerNames finds a partner by client id (glasshouse.PartnerStore).
type PartnerNames interface {
	PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error)
}

// MemberView describes one member's access records against one checkpoint.
// It remembers the partner names, tiles and entry bundles it read, so make
// one per page of events.
type MemberView struct {
	partners PartnerNames
	tiles    TileReader
	cp       *Checkpoint
	key      *MemberKey
	names    map[string]string
}

// NewMemberView returns a view against cp (nil before the log's first
// checkpoint). With the member's key, each entry read must carry the
// member's tag for its record's counter.
func NewMemberView(partners PartnerNames, log TileReader, cp *Checkpoint, key *MemberKey) *MemberView {
	return &MemberView{partners: partners, tiles: &memoTiles{tr: log, m: map[memoKey][]byte{}}, cp: cp, key: key, names: map[string]string{}}
}

// Event describes rec. With proof, an event the checkpoint covers also
// carries its entry and inclusion proof, both checked first (see
// IncludedEntry): an error then means the log and the store disagree.
func (v *MemberView) Event(ctx context.Context, rec *glasshouse.AccessRecord, proof bool) (MemberEvent, error) {
	ev := MemberEvent{
		Counter:          rec.Counter,
		EventID:          EventID(rec.EventID).String(),
		PartnerID:        rec.PartnerID,
		ClientID:         rec.ClientID,
		AgreementVersion: rec.AgreementVersion,
		Endpoint:         rec.Endpoint,
		Scopes:           rec.Scopes,
		Decision:         Denied.String(),
		Reason:           rec.Reason,
		Items:            rec.Items,
		Time:             rec.At.UTC().Truncate(time.Minute),
		Status:           StatusPending,
	}
	if ev.Scopes == nil {
		ev.Scopes = []string{}
	}
	if rec.Granted {
		ev.Decision = Granted.String()
	}
	name, ok := v.names[rec.ClientID]
	if !ok {
		p, err := v.partners.PartnerByClientID(ctx, rec.ClientID)
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return ev, fmt.Errorf("partner %s: %w", rec.ClientID, err)
		} else if err == nil {
			name = p.Name
		}
		v.names[rec.ClientID] = name
	}
	ev.PartnerName = name
	if !rec.Integrated {
		return ev, nil
	}
	index := rec.LogIndex
	ev.LogIndex, ev.Status = &index, StatusIntegrated
	if v.cp == nil || index >= v.cp.Size {
		return ev, nil
	}
	ev.Status = StatusIncluded
	if proof {
		var err error
		if ev.Entry, ev.Proof, err = IncludedEntry(ctx, v.tiles, rec, v.cp, v.key); err != nil {
			return ev, fmt.Errorf("event %s: %w", ev.EventID, err)
		}
	}
	return ev, nil
}

// IncludedEntry reads rec's entry from the log and builds its inclusion
// proof in cp's tree. It checks, before the member does, that the entry is
// rec's, with the tag of rec's counter under key (when key is given; else
// the tag is taken as it is), and that the proof leads to cp's root: a
// failure means the log and the store disagree.
func IncludedEntry(ctx context.Context, tiles TileReader, rec *glasshouse.AccessRecord, cp *Checkpoint, key *MemberKey) (entry []byte, proof [][]byte, err error) {
	entry, err = ReadEntry(ctx, tiles, rec.LogIndex, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	e, err := DecodeEntry(entry)
	if err != nil {
		return nil, nil, fmt.Errorf("log entry %d: %w", rec.LogIndex, err)
	}
	tag := e.Tag
	if key != nil {
		tag = key.Tag(rec.Counter)
	}
	want, err := EntryOf(rec, tag).MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("encode access record: %w", err)
	}
	if !bytes.Equal(entry, want) {
		return nil, nil, fmt.Errorf("log entry %d is not the access record's entry", rec.LogIndex)
	}
	proof, err = InclusionProof(ctx, tiles, rec.LogIndex, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	if err := VerifyInclusion(rec.LogIndex, cp.Size, LeafHash(entry), proof, cp.Hash); err != nil {
		return nil, nil, err
	}
	if proof == nil {
		proof = [][]byte{}
	}
	return entry, proof, nil
}

// MissingCounters returns the counters in (after, end] that recs (in
// counter order) lack: a gap the operator must explain.
func MissingCounters(after, end uint64, recs []*glasshouse.AccessRecord) []uint64 {
	missing := []uint64{}
	next := after + 1
	for _, rec := range recs {
		for ; next < rec.Counter && next <= end; next++ {
			missing = append(missing, next)
		}
		next = max(next, rec.Counter+1)
	}
	for ; next <= end; next++ {
		missing = append(missing, next)
	}
	return missing
}

// memoKey names one tile (level >= 0) or entry bundle (level -1).
type memoKey struct {
	level int64
	index uint64
	p     uint8
}

// memoTiles remembers the tiles and bundles read for one page of events:
// the events of a page mostly share them.
type memoTiles struct {
	tr TileReader
	m  map[memoKey][]byte
}

func (t *memoTiles) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return t.read(memoKey{int64(level), index, p}, func() ([]byte, error) { return t.tr.ReadTile(ctx, level, index, p) })
}

func (t *memoTiles) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return t.read(memoKey{-1, index, p}, func() ([]byte, error) { return t.tr.ReadEntryBundle(ctx, index, p) })
}

func (t *memoTiles) read(k memoKey, read func() ([]byte, error)) ([]byte, error) {
	if b, ok := t.m[k]; ok {
		return b, nil
	}
	b, err := read()
	if err == nil {
		t.m[k] = b
	}
	return b, err
}
