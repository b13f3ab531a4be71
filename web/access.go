package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/httpio"
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
	Checkpoint *string                 `json:"checkpoint"`
	Events     []accesslog.MemberEvent `json:"events"`
	// MemberKey is the member's tag key (K_member, 32 bytes): the server
	// checked with it that each included entry carries the member's tag
	// for its counter, and with it the member finds their own entries in
	// the log without trusting this server (glasshouse audit trail).
	MemberKey []byte `json:"member_key,omitempty"`
	// Next is the after of the next page; absent on the last.
	Next *uint64 `json:"next,omitempty"`
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

	page := accessPage{Count: count, Events: make([]accesslog.MemberEvent, 0, len(recs))}
	if cp != nil {
		note := string(cp.Raw)
		page.Checkpoint = &note
	}
	end := count
	if len(recs) == int(limit) {
		end = recs[len(recs)-1].Counter
		page.Next = &end
	}
	page.Missing = accesslog.MissingCounters(uint64(after), end, recs)

	var key *accesslog.MemberKey
	if s.memberKey != nil {
		k, err := s.memberKey(ctx, c.memberID)
		if err != nil {
			return fmt.Errorf("my access: member key: %w", err)
		}
		key, page.MemberKey = &k, k[:]
	}
	view := accesslog.NewMemberView(s.store, s.accessLog, cp, key)
	for _, rec := range recs {
		ev, err := view.Event(ctx, rec, true)
		if err != nil {
			return fmt.Errorf("my access: %w", err)
		}
		page.Events = append(page.Events, ev)
	}
	return httpio.WriteJSON(w, http.StatusOK, page)
}
