package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// checkpointRef describes checkpoint.txt in access.json.
type checkpointRef struct {
	File     string `json:"file"`
	KeyFile  string `json:"key_file"`
	Origin   string `json:"origin"`
	Size     uint64 `json:"size"`
	RootHash []byte `json:"root_hash"`
}

// accessSummary is what access.json held.
type accessSummary struct {
	Count    uint64 // the member's access counter when the export began
	Last     uint64 // the highest counter written
	Events   int
	Granted  int
	Included int
	Missing  []uint64 // counters up to Count with no record
}

// writeAccess writes access.json:
//
//	{"count": N, "checkpoint": {...} or null, "events": [...], "missing": [...]}
//
// Events come in counter order, one store page at a time.
func (r *run) writeAccess() error {
	// The count first: records committed after it only add events.
	count, err := r.store.AccessCount(r.ctx, r.me.ID)
	if err != nil {
		return fmt.Errorf("export: access count: %w", err)
	}
	s := accessSummary{Count: count, Missing: []uint64{}}
	w, err := r.create(accessFile)
	if err != nil {
		return err
	}
	var ref *checkpointRef
	if r.cp != nil {
		ref = &checkpointRef{File: checkpointFile, KeyFile: logKeyFile, Origin: r.cp.Origin, Size: r.cp.Size, RootHash: r.cp.Hash[:]}
	}
	var key []byte
	if r.key != nil {
		key = r.key[:]
	}
	head, err := json.MarshalIndent(struct {
		Count      uint64         `json:"count"`
		Checkpoint *checkpointRef `json:"checkpoint"`
		MemberKey  []byte         `json:"member_key,omitempty"` // K_member: finds the member's entries in the log (glasshouse audit trail)
	}{count, ref, key}, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %s: %w", accessFile, err)
	}
	// Open the object again after its last field, for events and missing.
	head = append(bytes.TrimSuffix(head, []byte("\n}")), ",\n  \"events\": "...)
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("export: %s: %w", accessFile, err)
	}
	list := jsonList{w: w, prefix: "  "}
	next := uint64(1) // the next counter expected
	err = r.eachAccess(math.MaxUint64, func(recs []*glasshouse.AccessRecord) error {
		view := r.view() // one per page: its events mostly share tiles
		for _, rec := range recs {
			ev, err := view.Event(r.ctx, rec, true)
			if err != nil {
				return err
			}
			for ; next < rec.Counter && next <= count; next++ {
				s.Missing = append(s.Missing, next)
			}
			next = max(next, rec.Counter+1)
			s.Last = rec.Counter
			s.Events++
			if rec.Granted {
				s.Granted++
			}
			if ev.Status == accesslog.StatusIncluded {
				s.Included++
			}
			if err := list.add(ev); err != nil {
				return err
			}
		}
		return nil
	})
	for ; err == nil && next <= count; next++ {
		s.Missing = append(s.Missing, next)
	}
	if err == nil {
		err = list.end(",\n  \"missing\": ")
	}
	if err == nil {
		var missing []byte
		missing, _ = json.Marshal(s.Missing)
		_, err = io.WriteString(w, string(missing)+"\n}\n")
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", accessFile, err)
	}
	r.access = s
	return nil
}

// eachAccess calls fn with the member's access records up to counter last,
// in counter order, one store page at a time.
func (r *run) eachAccess(last uint64, fn func([]*glasshouse.AccessRecord) error) error {
	var after uint64
	for after < last {
		recs, err := r.store.MemberAccess(r.ctx, r.me.ID, after, glasshouse.MaxPageSize)
		if err != nil {
			return fmt.Errorf("access records: %w", err)
		}
		full := len(recs) == glasshouse.MaxPageSize
		for len(recs) > 0 && recs[len(recs)-1].Counter > last {
			recs = recs[:len(recs)-1]
		}
		if len(recs) == 0 {
			return nil
		}
		if err := fn(recs); err != nil {
			return err
		}
		if !full {
			return nil
		}
		after = recs[len(recs)-1].Counter
	}
	return nil
}

// view describes the member's access events against the exported
// checkpoint, checking their tags when the member's key is known.
func (r *run) view() *accesslog.MemberView {
	return accesslog.NewMemberView(r.store, r.log, r.cp, r.key)
}
