package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// The member's side of accountability: every partner access that spoke for
// them, each with its place in the transparency log and the proof that the
// log's latest checkpoint includes it, so that the member (or their
// browser) can check the log's signature and every proof without trusting
// this server's word.

// AccessLog is the transparency log as the privacy center reads it: the
// latest checkpoint, and the tiles and entry bundles that proofs are built
// from. *accesslog.Log implements it.
type AccessLog interface {
	accesslog.TileReader
	// Checkpoint returns the latest published checkpoint, its signature
	// checked; an error wrapping fs.ErrNotExist before the first.
	Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error)
}

// Access event statuses.
const (
	accessPending    = "pending"    // waiting in the outbox for the log
	accessIntegrated = "integrated" // in the log at log_index; the next checkpoint (within seconds) covers it
	accessIncluded   = "included"   // the checkpoint covers it: entry and proof given
)

// accessPage is the body of GET /api/v1/me/access.
type accessPage struct {
	// Count is the member's access counter: how many accesses they have
	// had. Counters run 1..count without gaps.
	Count uint64 `json:"count"`
	// Missing lists the counters in this page's range that have no record.
	// It is always empty unless records were lost.
	Missing []uint64 `json:"missing"`
	// Checkpoint is the latest signed checkpoint, as GET /log/checkpoint
	// serves it; null before the log's first.
	Checkpoint *string       `json:"checkpoint"`
	Events     []accessEvent `json:"events"`
	// MemberKey is the member's tag key (K_member, 32 bytes): the server
	// checked with it that each included entry carries the member's tag
	// for its counter, and with it the member finds their own entries in
	// the log without trusting this server (glasshouse audit trail).
	MemberKey []byte `json:"member_key,omitempty"`
	// Next is the after of the next page; absent on the last.
	Next *uint64 `json:"next,omitempty"`
}

// accessEvent is one access record as its member sees it.
type accessEvent struct {
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
	// Status is "included". Proof is [] in a tree of one entry.
	Entry []byte   `json:"entry,omitzero"`
	Proof [][]byte `json:"proof,omitzero"`
}

// myAccess lists the caller's own access events: ?after=COUNTER (default 0)
// and ?limit=N, in counter order.
func (s *Server) myAccess(w http.ResponseWriter, r *http.Request, c caller) error {
	query := r.URL.Query()
	after, err := queryInt(query, "after", 0, math.MaxInt64, 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(query, "limit", 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// The count first: records committed after it only widen the page.
	count, err := s.store.AccessCount(ctx, c.memberID)
	if err != nil {
		return err
	}
	recs, err := s.store.MemberAccess(ctx, c.memberID, uint64(after), int(limit))
	if err != nil {
		return err
	}
	cp, err := s.accessLog.Checkpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		cp = nil
	} else if err != nil {
		return fmt.Errorf("my access: %w", err)
	}

	page := accessPage{Count: count, Events: make([]accessEvent, 0, len(recs))}
	if cp != nil {
		note := string(cp.Raw)
		page.Checkpoint = &note
	}
	end := count
	if len(recs) == int(limit) {
		end = recs[len(recs)-1].Counter
		page.Next = &end
	}
	page.Missing = missingCounters(uint64(after), end, recs)

	var key *accesslog.MemberKey
	if s.memberKey != nil {
		k, err := s.memberKey(ctx, c.memberID)
		if err != nil {
			return fmt.Errorf("my access: member key: %w", err)
		}
		key, page.MemberKey = &k, k[:]
	}
	tiles := &memoTiles{tr: s.accessLog, m: map[memoKey][]byte{}}
	names := map[string]string{}
	for _, rec := range recs {
		ev, err := s.accessEvent(ctx, rec, cp, tiles, names, key)
		if err != nil {
			return err
		}
		page.Events = append(page.Events, ev)
	}
	return reply(w, http.StatusOK, page)
}

// accessEvent describes rec, with its entry and inclusion proof when cp
// covers it. names caches partner names by client id.
func (s *Server) accessEvent(ctx context.Context, rec *glasshouse.AccessRecord, cp *accesslog.Checkpoint, tiles accesslog.TileReader, names map[string]string, key *accesslog.MemberKey) (accessEvent, error) {
	ev := accessEvent{
		Counter:          rec.Counter,
		EventID:          accesslog.EventID(rec.EventID).String(),
		PartnerID:        rec.PartnerID,
		ClientID:         rec.ClientID,
		AgreementVersion: rec.AgreementVersion,
		Endpoint:         rec.Endpoint,
		Scopes:           nonNil(rec.Scopes),
		Decision:         accesslog.Denied.String(),
		Reason:           rec.Reason,
		Items:            rec.Items,
		Time:             rec.At.UTC().Truncate(time.Minute),
		Status:           accessPending,
	}
	if rec.Granted {
		ev.Decision = accesslog.Granted.String()
	}
	name, ok := names[rec.ClientID]
	if !ok {
		p, err := s.store.PartnerByClientID(ctx, rec.ClientID)
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return ev, err
		} else if err == nil {
			name = p.Name
		}
		names[rec.ClientID] = name
	}
	ev.PartnerName = name
	if !rec.Integrated {
		return ev, nil
	}
	index := rec.LogIndex
	ev.LogIndex, ev.Status = &index, accessIntegrated
	if cp == nil || index >= cp.Size {
		return ev, nil
	}
	entry, proof, err := includedEntry(ctx, tiles, rec, cp, key)
	if err != nil {
		return ev, fmt.Errorf("my access: event %s: %w", ev.EventID, err)
	}
	ev.Status, ev.Entry, ev.Proof = accessIncluded, entry, proof
	return ev, nil
}

// includedEntry reads rec's entry from the log and builds its inclusion
// proof in cp's tree. It checks, before the member does, that the entry is
// rec's, its tag recomputed with the member's key for rec's counter (when
// key is given), and that the proof leads to cp's root: a failure means
// the log and the store disagree.
func includedEntry(ctx context.Context, tiles accesslog.TileReader, rec *glasshouse.AccessRecord, cp *accesslog.Checkpoint, key *accesslog.MemberKey) (entry []byte, proof [][]byte, err error) {
	entry, err = accesslog.ReadEntry(ctx, tiles, rec.LogIndex, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	e, err := accesslog.DecodeEntry(entry)
	if err != nil {
		return nil, nil, fmt.Errorf("log entry %d: %w", rec.LogIndex, err)
	}
	tag := e.Tag
	if key != nil {
		tag = key.Tag(rec.Counter)
	}
	want, err := accesslog.EntryOf(rec, tag).MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("encode access record: %w", err)
	}
	if !bytes.Equal(entry, want) {
		return nil, nil, fmt.Errorf("log entry %d is not the access record's entry", rec.LogIndex)
	}
	proof, err = accesslog.InclusionProof(ctx, tiles, rec.LogIndex, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	if err := accesslog.VerifyInclusion(rec.LogIndex, cp.Size, accesslog.LeafHash(entry), proof, cp.Hash); err != nil {
		return nil, nil, err
	}
	return entry, nonNil(proof), nil
}

// missingCounters returns the counters in (after, end] that recs (in
// counter order) lack.
func missingCounters(after, end uint64, recs []*glasshouse.AccessRecord) []uint64 {
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

// memoTiles remembers the tiles and bundles one request read: the events
// of a page mostly share them.
type memoTiles struct {
	tr accesslog.TileReader
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
