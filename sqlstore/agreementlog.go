package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// agreementActions maps an AgreementEvent's action to its log entry's.
var agreementActions = map[string]accesslog.Action{
	glasshouse.AgreementApproved:  accesslog.Approved,
	glasshouse.AgreementSuspended: accesslog.Suspended,
	glasshouse.AgreementResumed:   accesslog.Resumed,
	glasshouse.AgreementExpired:   accesslog.Expired,
}

// logAgreement writes, in t, the log entry of a change (action, effective
// at) of agreement a of partner p: its agreement_events row and its
// outbox row, which the feeder appends to the log. No entry, no change:
// the caller's change commits with them or not at all.
func (t *tx) logAgreement(p *glasshouse.Partner, a *glasshouse.Agreement, action string, at time.Time) error {
	id, err := accesslog.NewEventID(nil)
	if err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Second)
	entry, err := accesslog.AgreementEntryOf(id, p.ClientID, a, agreementActions[action], at).MarshalBinary()
	if err != nil {
		return fmt.Errorf("agreement entry: %w", err)
	}
	if _, err := t.exec(`INSERT INTO agreement_events (event_id, partner_id, version, action, effective_at) VALUES (?, ?, ?, ?, ?)`,
		id[:], p.ID, a.Version, action, micros(at)); err != nil {
		return fmt.Errorf("agreement event: %w", err)
	}
	if _, err := t.exec(`INSERT INTO access_outbox (event_id, entry) VALUES (?, ?)`, id[:], entry); err != nil {
		return fmt.Errorf("agreement event outbox: %w", err)
	}
	return nil
}

// AgreementEvents lists partnerID's logged agreement changes in the order
// they were made.
func (s *Store) AgreementEvents(ctx context.Context, partnerID int64) ([]*glasshouse.AgreementEvent, error) {
	rows, err := s.read(ctx).query(`SELECT event_id, version, action, effective_at, log_index FROM agreement_events
		WHERE partner_id = ? ORDER BY seq`, partnerID)
	if err != nil {
		return nil, fmt.Errorf("agreement events: %w", err)
	}
	defer rows.Close()
	out := []*glasshouse.AgreementEvent{}
	for rows.Next() {
		var e glasshouse.AgreementEvent
		var id []byte
		var at int64
		var index sql.NullInt64
		if err := rows.Scan(&id, &e.Version, &e.Action, &at, &index); err != nil {
			return nil, fmt.Errorf("agreement events: %w", err)
		}
		copy(e.EventID[:], id)
		e.EffectiveAt = fromMicros(at)
		e.LogIndex, e.Integrated = uint64(index.Int64), index.Valid
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("agreement events: %w", err)
	}
	return out, nil
}

// LogAgreementChanges logs, in one transaction, what the log lacks at now:
// approvals made before agreements were logged, the expiry of each
// partner's version in force, and statuses that differ from the last one
// logged (set in the database by other means than SetPartnerStatus).
func (s *Store) LogAgreementChanges(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(t *tx) error {
		n = 0
		ps, err := t.partners(`1 = 1`)
		if err != nil {
			return err
		}
		for _, p := range ps {
			k, err := t.logMissing(p, now)
			if err != nil {
				return fmt.Errorf("partner %s: %w", p.ClientID, err)
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("log agreement changes: %w", err)
	}
	return n, nil
}

// logMissing logs what the log lacks of partner p at now (see
// LogAgreementChanges) and returns how many entries it wrote.
func (t *tx) logMissing(p *glasshouse.Partner, now time.Time) (int, error) {
	var n int
	versions, err := t.approvedAgreements(p.ID)
	if err != nil || len(versions) == 0 {
		return 0, err
	}
	// logOnce logs action on version a, effective at, unless the log
	// already holds it.
	logOnce := func(a *glasshouse.Agreement, action string, at time.Time) error {
		ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM agreement_events WHERE partner_id = ? AND version = ? AND action = ?)`,
			p.ID, a.Version, action)
		if err != nil || ok {
			return err
		}
		n++
		return t.logAgreement(p, a, action, at)
	}
	for _, a := range versions {
		if err := logOnce(a, glasshouse.AgreementApproved, a.ApprovedAt); err != nil {
			return 0, err
		}
	}
	current := versions[len(versions)-1]
	if !now.Before(current.ExpiresAt) {
		if err := logOnce(current, glasshouse.AgreementExpired, current.ExpiresAt); err != nil {
			return 0, err
		}
	}
	if logged, err := t.logStatus(p, current, now); err != nil {
		return 0, err
	} else if logged {
		n++
	}
	return n, nil
}

// logStatus logs the suspension or resumption of partner p (under its
// agreement a in force), effective at, when p.Status differs from the last
// status the log holds for it; it reports whether it wrote an entry.
func (t *tx) logStatus(p *glasshouse.Partner, a *glasshouse.Agreement, at time.Time) (bool, error) {
	var last string
	err := t.queryRow(`SELECT action FROM agreement_events WHERE partner_id = ? AND action IN (?, ?) ORDER BY seq DESC LIMIT 1`,
		p.ID, glasshouse.AgreementSuspended, glasshouse.AgreementResumed).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	loggedSuspended, suspended := last == glasshouse.AgreementSuspended, p.Status == glasshouse.PartnerSuspended
	if suspended == loggedSuspended {
		return false, nil
	}
	change := glasshouse.AgreementResumed
	if suspended {
		change = glasshouse.AgreementSuspended
	}
	return true, t.logAgreement(p, a, change, at)
}

// approvedAgreements returns partnerID's approved versions, oldest first.
func (t *tx) approvedAgreements(partnerID int64) ([]*glasshouse.Agreement, error) {
	rows, err := t.query(`SELECT `+agreementColumns+` FROM agreements a WHERE a.partner_id = ? AND a.approved_at <> 0 ORDER BY a.version`, partnerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*glasshouse.Agreement
	for rows.Next() {
		var r agreementRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		out = append(out, r.agreement())
	}
	return out, rows.Err()
}
