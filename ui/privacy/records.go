package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
)

// The store lists a member's access records in counter order, one page at
// a time, and has no query by partner: the pages below read them all and
// summarise or filter them here.

// eachAccess calls fn with each of memberID's access records, in counter
// order.
func (pc *Center) eachAccess(ctx context.Context, memberID int64, fn func(*glasshouse.AccessRecord)) error {
	var after uint64
	for {
		recs, err := pc.store.MemberAccess(ctx, memberID, after, glasshouse.MaxPageSize)
		if err != nil {
			return fmt.Errorf("member access: %w", err)
		}
		for _, rec := range recs {
			fn(rec)
		}
		if len(recs) < glasshouse.MaxPageSize {
			return nil
		}
		after = recs[len(recs)-1].Counter
	}
}

// usage sums up one partner's accesses for a member.
type usage struct {
	PartnerID int64
	ClientID  string
	Count     int
	Denied    int
	Last      time.Time // the newest access
	LastOK    bool      // the newest access was granted
}

// usages sums up memberID's accesses per partner id.
func (pc *Center) usages(ctx context.Context, memberID int64) (map[int64]*usage, error) {
	out := map[int64]*usage{}
	err := pc.eachAccess(ctx, memberID, func(rec *glasshouse.AccessRecord) {
		u := out[rec.PartnerID]
		if u == nil {
			u = &usage{PartnerID: rec.PartnerID, ClientID: rec.ClientID}
			out[rec.PartnerID] = u
		}
		u.Count++
		if !rec.Granted {
			u.Denied++
		}
		if !rec.At.Before(u.Last) {
			u.Last, u.LastOK = rec.At, rec.Granted
		}
	})
	return out, err
}

// partnerAccess returns memberID's access records for partnerID, newest
// first.
func (pc *Center) partnerAccess(ctx context.Context, memberID, partnerID int64) ([]*glasshouse.AccessRecord, error) {
	var recs []*glasshouse.AccessRecord
	err := pc.eachAccess(ctx, memberID, func(rec *glasshouse.AccessRecord) {
		if rec.PartnerID == partnerID {
			recs = append(recs, rec)
		}
	})
	slices.Reverse(recs)
	return recs, err
}

// sortedScopes returns the scopes as the log entry orders them: ascending,
// bytewise (docs/log-format.md).
func sortedScopes(scopes []string) []string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return s
}
