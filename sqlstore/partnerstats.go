package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.PartnerStatsStore = (*Store)(nil)

// microsPerDay turns a time in unix microseconds into its UTC day number
// (dayUsage's query spells it out).
const microsPerDay = int64(24 * time.Hour / time.Microsecond)

// PartnerUsage counts partnerID's accesses in [since, until), with its
// all-time totals and its latest receipts, all read in one snapshot.
func (s *Store) PartnerUsage(ctx context.Context, partnerID int64, since, until time.Time, receipts int) (*glasshouse.PartnerUsage, error) {
	switch {
	case !until.After(since) || until.Sub(since) > glasshouse.MaxUsageWindow:
		return nil, glasshouse.Errorf(glasshouse.EINVALID, "The window must end after it starts and span at most %d days.",
			glasshouse.MaxUsageWindow/(24*time.Hour))
	case receipts == 0:
		receipts = glasshouse.DefaultPageSize
	case receipts < 0 || receipts > glasshouse.MaxPageSize:
		return nil, glasshouse.Errorf(glasshouse.EINVALID, "Receipts must be 0 to %d.", glasshouse.MaxPageSize)
	}
	u := &glasshouse.PartnerUsage{Since: since, Until: until}
	from, to := micros(since), micros(until)
	err := s.view(ctx, func(t *tx) error {
		var err error
		if u.Total, err = t.accessTotals(partnerID); err != nil {
			return err
		}
		if u.ByScope, err = t.scopeUsage(partnerID, from, to); err != nil {
			return err
		}
		if u.ByDay, err = t.dayUsage(partnerID, from, to); err != nil {
			return err
		}
		for _, d := range u.ByDay {
			u.Window.Granted += d.Granted
			u.Window.Denied += d.Denied
		}
		u.Receipts, err = t.receipts(partnerID, from, to, receipts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("partner usage: %w", err)
	}
	return u, nil
}

// PartnerAccessTotals counts every access partnerID ever made.
func (s *Store) PartnerAccessTotals(ctx context.Context, partnerID int64) (glasshouse.AccessTotals, error) {
	n, err := s.read(ctx).accessTotals(partnerID)
	if err != nil {
		return n, fmt.Errorf("partner access totals: %w", err)
	}
	return n, nil
}

// accessTotals counts partnerID's access records, granted and denied.
func (t *tx) accessTotals(partnerID int64) (glasshouse.AccessTotals, error) {
	var n glasshouse.AccessTotals
	err := t.queryRow(`SELECT
		COALESCE(SUM(CASE WHEN granted THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN granted THEN 0 ELSE 1 END), 0)
		FROM partner_access_records WHERE partner_id = ?`, partnerID).Scan(&n.Granted, &n.Denied)
	return n, err
}

// scopeUsage counts the accesses in [from, to) per scope, decision and
// reason. Records keep their scopes as one text, so the database groups by
// that text and each group is counted under each of its scopes here.
func (t *tx) scopeUsage(partnerID, from, to int64) ([]glasshouse.ScopeUsage, error) {
	rows, err := t.query(`SELECT scopes, granted, reason, COUNT(*) FROM partner_access_records
		WHERE partner_id = ? AND at >= ? AND at < ? GROUP BY scopes, granted, reason`, partnerID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		scope   string
		granted bool
		reason  string
	}
	counts := map[key]int64{}
	for rows.Next() {
		var scopes string
		var k key
		var n int64
		if err := rows.Scan(&scopes, &k.granted, &k.reason, &n); err != nil {
			return nil, err
		}
		for _, scope := range sortScopes(strings.Fields(scopes)) {
			k.scope = scope
			counts[k] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []glasshouse.ScopeUsage{}
	for k, n := range counts {
		out = append(out, glasshouse.ScopeUsage{Scope: k.scope, Granted: k.granted, Reason: k.reason, Count: n})
	}
	slices.SortFunc(out, func(a, b glasshouse.ScopeUsage) int {
		return cmp.Or(compareScopes(a.Scope, b.Scope), compareGrantedFirst(a.Granted, b.Granted), strings.Compare(a.Reason, b.Reason))
	})
	return out, nil
}

// compareScopes orders two scopes as sortScopes does.
func compareScopes(a, b string) int {
	rank := func(s string) int {
		if r, ok := scopeRank[s]; ok {
			return r
		}
		return len(scopeRank)
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
}

func compareGrantedFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// dayUsage counts the accesses in [from, to) per UTC day, oldest first.
func (t *tx) dayUsage(partnerID, from, to int64) ([]glasshouse.DayUsage, error) {
	rows, err := t.query(`SELECT at / 86400000000, granted, COUNT(*) FROM partner_access_records
		WHERE partner_id = ? AND at >= ? AND at < ? GROUP BY 1, 2 ORDER BY 1`, partnerID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []glasshouse.DayUsage{}
	for rows.Next() {
		var day, n int64
		var granted bool
		if err := rows.Scan(&day, &granted, &n); err != nil {
			return nil, err
		}
		at := fromMicros(day * microsPerDay)
		if len(out) == 0 || !out[len(out)-1].Day.Equal(at) {
			out = append(out, glasshouse.DayUsage{Day: at})
		}
		if d := &out[len(out)-1]; granted {
			d.Granted += n
		} else {
			d.Denied += n
		}
	}
	return out, rows.Err()
}

// receipts returns up to limit of partnerID's latest access records in
// [from, to), newest first, without their member.
func (t *tx) receipts(partnerID, from, to int64, limit int) ([]*glasshouse.AccessRecord, error) {
	rows, err := t.query(`SELECT event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at, log_index
		FROM partner_access_records WHERE partner_id = ? AND at >= ? AND at < ? ORDER BY at DESC, event_id DESC LIMIT ?`,
		partnerID, from, to, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*glasshouse.AccessRecord{}
	for rows.Next() {
		var r glasshouse.AccessRecord
		var eventID []byte
		var scopes string
		var at int64
		var index sql.NullInt64
		if err := rows.Scan(&eventID, &r.PartnerID, &r.ClientID, &r.AgreementVersion, &r.Endpoint, &scopes,
			&r.Granted, &r.Reason, &r.Items, &at, &index); err != nil {
			return nil, err
		}
		if len(eventID) != len(r.EventID) {
			return nil, fmt.Errorf("event id of %d bytes", len(eventID))
		}
		copy(r.EventID[:], eventID)
		r.Scopes, r.At = strings.Fields(scopes), fromMicros(at)
		r.LogIndex, r.Integrated = uint64(index.Int64), index.Valid
		out = append(out, &r)
	}
	return out, rows.Err()
}

// Agreements lists every version of partnerID's agreement, newest first.
func (s *Store) Agreements(ctx context.Context, partnerID int64) ([]*glasshouse.Agreement, error) {
	rows, err := s.read(ctx).query(`SELECT `+agreementColumns+` FROM agreements a
		WHERE a.partner_id = ? ORDER BY a.version DESC`, partnerID)
	if err != nil {
		return nil, fmt.Errorf("agreements: %w", err)
	}
	defer rows.Close()
	out := []*glasshouse.Agreement{}
	for rows.Next() {
		var r agreementRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("agreements: %w", err)
		}
		out = append(out, r.agreement())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("agreements: %w", err)
	}
	if len(out) == 0 {
		// Every partner is registered with version 1.
		return nil, fmt.Errorf("agreements: %w", errNoPartner())
	}
	return out, nil
}
