package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.PartnerStore = (*Store)(nil)

func errNoPartner() error { return glasshouse.Errorf(glasshouse.ENOTFOUND, "Partner not found.") }

// uriSeparator separates a partner's redirect URIs in partnerColumns: a
// control character, which no URI holds.
const uriSeparator = "\n"

// partnerColumns are the columns partnerRow scans, from partners p: the
// partner, then its redirect URIs in order, joined by uriSeparator.
const partnerColumns = `p.id, p.client_id, p.name, p.status, p.created_at,
	(SELECT string_agg(r.uri, '` + uriSeparator + `' ORDER BY r.position) FROM partner_redirect_uris r WHERE r.partner_id = p.id)`

// partnerRow receives partnerColumns.
type partnerRow struct {
	p       glasshouse.Partner
	created int64
	uris    sql.NullString
}

func (r *partnerRow) dest() []any {
	return []any{&r.p.ID, &r.p.ClientID, &r.p.Name, &r.p.Status, &r.created, &r.uris}
}

// partner returns the partner the row held.
func (r *partnerRow) partner() *glasshouse.Partner {
	p := r.p
	p.CreatedAt, p.RedirectURIs = fromMicros(r.created), []string{}
	if r.uris.Valid {
		p.RedirectURIs = strings.Split(r.uris.String, uriSeparator)
	}
	return &p
}

// partners returns the partners matching where (a condition on partners p,
// or "" for all), oldest first.
func (t *tx) partners(where string, args ...any) ([]*glasshouse.Partner, error) {
	query := `SELECT ` + partnerColumns + ` FROM partners p`
	if where != "" {
		query += ` WHERE ` + where
	}
	rows, err := t.query(query+` ORDER BY p.created_at, p.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := []*glasshouse.Partner{}
	for rows.Next() {
		var r partnerRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		ps = append(ps, r.partner())
	}
	return ps, rows.Err()
}

// partner returns the partner matching where; ENOTFOUND if none.
func (t *tx) partner(where string, args ...any) (*glasshouse.Partner, error) {
	ps, err := t.partners(where, args...)
	if err != nil {
		return nil, err
	} else if len(ps) == 0 {
		return nil, errNoPartner()
	}
	return ps[0], nil
}

// CreatePartner registers a validated partner, pending, with its agreement
// as version 1. ECONFLICT if clientID is taken.
func (s *Store) CreatePartner(ctx context.Context, np glasshouse.NewPartner, clientID string, secretHash []byte) (*glasshouse.Partner, error) {
	now := s.now()
	if err := np.Validate(now); err != nil {
		return nil, fmt.Errorf("create partner: %w", err)
	}
	if clientID == "" || len(secretHash) == 0 {
		return nil, fmt.Errorf("create partner: %w", glasshouse.Errorf(glasshouse.EINVALID, "A client id and a secret hash are required."))
	}
	p := &glasshouse.Partner{ClientID: clientID, Name: np.Name, RedirectURIs: slices.Clone(np.RedirectURIs),
		Status: glasshouse.PartnerPending, CreatedAt: now}
	err := s.write(ctx, func(t *tx) error {
		err := t.queryRow(`INSERT INTO partners (client_id, name, secret_hash, status, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			clientID, np.Name, secretHash, p.Status, micros(now)).Scan(&p.ID)
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The client id %q is taken.", clientID)
		} else if err != nil {
			return err
		}
		for i, uri := range np.RedirectURIs {
			if _, err := t.exec(`INSERT INTO partner_redirect_uris (partner_id, position, uri) VALUES (?, ?, ?)`, p.ID, i, uri); err != nil {
				return err
			}
		}
		return t.insertAgreement(&glasshouse.Agreement{PartnerID: p.ID, Version: 1, Scopes: np.Scopes, Purpose: np.Purpose,
			RetentionDays: np.RetentionDays, ExpiresAt: np.ExpiresAt, SecurityAssessedAt: np.SecurityAssessedAt, CreatedAt: now})
	})
	if err != nil {
		return nil, fmt.Errorf("create partner: %w", err)
	}
	return p, nil
}

// Partners lists every partner, oldest first.
func (s *Store) Partners(ctx context.Context) ([]*glasshouse.Partner, error) {
	ps, err := s.read(ctx).partners("")
	if err != nil {
		return nil, fmt.Errorf("partners: %w", err)
	}
	return ps, nil
}

// PartnerByClientID returns a partner; ENOTFOUND if absent.
func (s *Store) PartnerByClientID(ctx context.Context, clientID string) (*glasshouse.Partner, error) {
	p, err := s.read(ctx).partner(`p.client_id = ?`, clientID)
	if err != nil {
		return nil, fmt.Errorf("partner by client id: %w", err)
	}
	return p, nil
}

// PartnerSecretHash returns a partner's client-secret hash; ENOTFOUND.
func (s *Store) PartnerSecretHash(ctx context.Context, clientID string) ([]byte, error) {
	var hash []byte
	err := s.read(ctx).queryRow(`SELECT secret_hash FROM partners WHERE client_id = ?`, clientID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("partner secret hash: %w", errNoPartner())
	} else if err != nil {
		return nil, fmt.Errorf("partner secret hash: %w", err)
	}
	return hash, nil
}

// PortalEpoch returns a partner's portal session epoch; ENOTFOUND.
func (s *Store) PortalEpoch(ctx context.Context, clientID string) (int64, error) {
	var epoch int64
	err := s.read(ctx).queryRow(`SELECT portal_epoch FROM partners WHERE client_id = ?`, clientID).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("portal epoch: %w", errNoPartner())
	} else if err != nil {
		return 0, fmt.Errorf("portal epoch: %w", err)
	}
	return epoch, nil
}

// EndPortalSessions moves a partner's portal epoch on; ENOTFOUND.
func (s *Store) EndPortalSessions(ctx context.Context, clientID string) error {
	err := s.write(ctx, func(t *tx) error {
		if n, err := t.affected(`UPDATE partners SET portal_epoch = portal_epoch + 1 WHERE client_id = ?`, clientID); err != nil {
			return err
		} else if n == 0 {
			return errNoPartner()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("end portal sessions: %w", err)
	}
	return nil
}

// agreementColumns are the columns agreementRow scans, from agreements a:
// the agreement, then its scopes as one space-separated text.
const agreementColumns = `a.partner_id, a.version, a.purpose, a.retention_days, a.expires_at,
	a.security_assessed_at, a.approved_at, a.created_at,
	(SELECT string_agg(s.scope, ' ') FROM agreement_scopes s WHERE s.partner_id = a.partner_id AND s.version = a.version)`

// agreementRow receives agreementColumns. Every field is nullable, so that
// it also receives the missing agreement of a LEFT JOIN.
type agreementRow struct {
	partnerID, version, retention        sql.NullInt64
	purpose, scopes                      sql.NullString
	expires, assessed, approved, created sql.NullInt64
}

func (r *agreementRow) dest() []any {
	return []any{&r.partnerID, &r.version, &r.purpose, &r.retention, &r.expires, &r.assessed, &r.approved, &r.created, &r.scopes}
}

// found reports whether the row held an agreement.
func (r *agreementRow) found() bool { return r.version.Valid }

// agreement returns the agreement the row held.
func (r *agreementRow) agreement() *glasshouse.Agreement {
	return &glasshouse.Agreement{PartnerID: r.partnerID.Int64, Version: int(r.version.Int64), Scopes: sortScopes(splitList(r.scopes.String)),
		Purpose: r.purpose.String, RetentionDays: int(r.retention.Int64), ExpiresAt: fromMicros(r.expires.Int64),
		SecurityAssessedAt: fromOptMicros(r.assessed.Int64), ApprovedAt: fromOptMicros(r.approved.Int64), CreatedAt: fromMicros(r.created.Int64)}
}

// agreement returns the newest version matching where (a condition on
// agreements a), with its scopes; ENOTFOUND if none.
func (t *tx) agreement(where string, args ...any) (*glasshouse.Agreement, error) {
	var r agreementRow
	err := t.queryRow(`SELECT `+agreementColumns+` FROM agreements a WHERE `+where+` ORDER BY a.version DESC LIMIT 1`, args...).Scan(r.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, glasshouse.Errorf(glasshouse.ENOTFOUND, "Agreement not found.")
	} else if err != nil {
		return nil, err
	}
	return r.agreement(), nil
}

// insertAgreement stores a with its scopes.
func (t *tx) insertAgreement(a *glasshouse.Agreement) error {
	if _, err := t.exec(`INSERT INTO agreements (partner_id, version, purpose, retention_days, expires_at,
		security_assessed_at, approved_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.PartnerID, a.Version, a.Purpose, a.RetentionDays, micros(a.ExpiresAt),
		optMicros(a.SecurityAssessedAt), optMicros(a.ApprovedAt), micros(a.CreatedAt)); err != nil {
		return err
	}
	for _, scope := range a.Scopes {
		if _, err := t.exec(`INSERT INTO agreement_scopes (partner_id, version, scope) VALUES (?, ?, ?)`,
			a.PartnerID, a.Version, scope); err != nil {
			return err
		}
	}
	return nil
}

// CurrentAgreement returns the newest approved version; ENOTFOUND if none.
func (s *Store) CurrentAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error) {
	a, err := s.read(ctx).agreement(`a.partner_id = ? AND a.approved_at <> 0`, partnerID)
	if err != nil {
		return nil, fmt.Errorf("current agreement: %w", err)
	}
	return a, nil
}

// LatestAgreement returns the newest version, approved or not; ENOTFOUND if
// the partner is absent.
func (s *Store) LatestAgreement(ctx context.Context, partnerID int64) (*glasshouse.Agreement, error) {
	a, err := s.read(ctx).agreement(`a.partner_id = ?`, partnerID)
	if err != nil {
		return nil, fmt.Errorf("latest agreement: %w", err)
	}
	return a, nil
}

// ProposeAgreement adds the next version, unapproved, made of a's scopes,
// purpose, retention, expiry and assessment date. It is validated as the
// partner's registration would be (EINVALID); ENOTFOUND if the partner is
// absent.
func (s *Store) ProposeAgreement(ctx context.Context, partnerID int64, a glasshouse.Agreement) (*glasshouse.Agreement, error) {
	now := s.now()
	var out *glasshouse.Agreement
	err := s.write(ctx, func(t *tx) error {
		p, err := t.partner(`p.id = ?`, partnerID)
		if err != nil {
			return err
		}
		np := glasshouse.NewPartner{Name: p.Name, RedirectURIs: p.RedirectURIs, Scopes: a.Scopes, Purpose: a.Purpose,
			RetentionDays: a.RetentionDays, ExpiresAt: a.ExpiresAt, SecurityAssessedAt: a.SecurityAssessedAt}
		if err := np.Validate(now); err != nil {
			return err
		}
		var latest int
		if err := t.queryRow(`SELECT COALESCE(MAX(version), 0) FROM agreements WHERE partner_id = ?`, partnerID).Scan(&latest); err != nil {
			return err
		}
		out = &glasshouse.Agreement{PartnerID: partnerID, Version: latest + 1, Scopes: sortScopes(a.Scopes), Purpose: a.Purpose,
			RetentionDays: a.RetentionDays, ExpiresAt: fromMicros(micros(a.ExpiresAt)),
			SecurityAssessedAt: fromOptMicros(optMicros(a.SecurityAssessedAt)), CreatedAt: now}
		return t.insertAgreement(out)
	})
	if err != nil {
		return nil, fmt.Errorf("propose agreement: %w", err)
	}
	return out, nil
}

// ApproveAgreement approves the partner's newest agreement version at now
// and sets a pending partner approved (a suspended one stays suspended).
// EFORBIDDEN if the version has
// messages.read without a security assessment at most
// glasshouse.MaxAssessmentAge old at now; ECONFLICT if it is already
// approved; ENOTFOUND.
func (s *Store) ApproveAgreement(ctx context.Context, clientID string, now time.Time) (*glasshouse.Agreement, error) {
	var a *glasshouse.Agreement
	err := s.write(ctx, func(t *tx) error {
		p, err := t.partner(`p.client_id = ?`, clientID)
		if err != nil {
			return err
		}
		if a, err = t.agreement(`a.partner_id = ?`, p.ID); err != nil {
			return err
		}
		if !a.ApprovedAt.IsZero() {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "Version %d of the agreement of %s is already approved.", a.Version, p.Name)
		}
		if slices.Contains(a.Scopes, glasshouse.ScopeMessagesRead) &&
			(a.SecurityAssessedAt.IsZero() || now.Sub(a.SecurityAssessedAt) > glasshouse.MaxAssessmentAge) {
			return glasshouse.Errorf(glasshouse.EFORBIDDEN,
				"The agreement asks for %s, which needs a security assessment at most 12 months old.", glasshouse.ScopeMessagesRead)
		}
		a.ApprovedAt = fromMicros(micros(now))
		if _, err := t.exec(`UPDATE agreements SET approved_at = ? WHERE partner_id = ? AND version = ?`,
			micros(now), a.PartnerID, a.Version); err != nil {
			return err
		}
		// A pending partner becomes approved; a suspension stays until the
		// operator resumes it.
		if _, err = t.exec(`UPDATE partners SET status = ? WHERE id = ? AND status = ?`,
			glasshouse.PartnerApproved, p.ID, glasshouse.PartnerPending); err != nil {
			return err
		}
		if err := t.narrowGrants(p.ID, a.Scopes); err != nil {
			return err
		}
		if err := t.logAgreement(p, a, glasshouse.AgreementApproved, a.ApprovedAt); err != nil {
			return err
		}
		// A partner suspended before its first approval: the log learns
		// of the suspension with the agreement it suspends.
		_, err = t.logStatus(p, a, a.ApprovedAt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("approve agreement: %w", err)
	}
	return a, nil
}

// narrowGrants takes every scope outside scopes out of the grants to
// partnerID, with the picked conversations when messages.read goes: the
// members consented under agreements that are no longer in force, and a
// scope the partner lost comes back only with their consent again.
func (t *tx) narrowGrants(partnerID int64, scopes []string) error {
	for _, s := range glasshouse.DataScopes {
		if slices.Contains(scopes, s) {
			continue
		}
		if _, err := t.exec(`DELETE FROM grant_scopes WHERE partner_id = ? AND scope = ?`, partnerID, s); err != nil {
			return err
		}
		if s == glasshouse.ScopeMessagesRead {
			if _, err := t.exec(`DELETE FROM grant_conversations WHERE partner_id = ?`, partnerID); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetPartnerStatus suspends (glasshouse.PartnerSuspended) or resumes
// (glasshouse.PartnerApproved) a partner. EINVALID for another status;
// ECONFLICT when resuming a partner with no approved agreement; ENOTFOUND.
func (s *Store) SetPartnerStatus(ctx context.Context, clientID, status string) (*glasshouse.Partner, error) {
	if status != glasshouse.PartnerSuspended && status != glasshouse.PartnerApproved {
		return nil, fmt.Errorf("set partner status: %w", glasshouse.Errorf(glasshouse.EINVALID,
			"A partner can only be set %s or %s.", glasshouse.PartnerSuspended, glasshouse.PartnerApproved))
	}
	var p *glasshouse.Partner
	err := s.write(ctx, func(t *tx) error {
		var err error
		if p, err = t.partner(`p.client_id = ?`, clientID); err != nil {
			return err
		}
		current, err := t.agreement(`a.partner_id = ? AND a.approved_at <> 0`, p.ID)
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			if status == glasshouse.PartnerApproved {
				return glasshouse.Errorf(glasshouse.ECONFLICT, "%s has no approved agreement to resume under.", p.Name)
			}
			current = nil // a partner never approved had no access: nothing to log
		} else if err != nil {
			return err
		}
		if _, err = t.exec(`UPDATE partners SET status = ? WHERE id = ?`, status, p.ID); err != nil {
			return err
		}
		p.Status = status
		if current == nil {
			return nil
		}
		_, err = t.logStatus(p, current, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set partner status: %w", err)
	}
	return p, nil
}

// scopeRank orders scopes as consent screens list them: the protocol scopes,
// then glasshouse.DataScopes in order; other scopes come last.
var scopeRank = func() map[string]int {
	rank := map[string]int{glasshouse.ScopeOpenID: 0, glasshouse.ScopeOffline: 1}
	for i, s := range glasshouse.DataScopes {
		rank[s] = 2 + i
	}
	return rank
}()

// sortScopes returns scopes in their canonical order, without repeats: by
// scopeRank, then by name. Every list of scopes a Store returns is in this
// order.
func sortScopes(scopes []string) []string {
	out := slices.Clone(scopes)
	if out == nil {
		out = []string{}
	}
	rank := func(s string) int {
		if r, ok := scopeRank[s]; ok {
			return r
		}
		return len(scopeRank)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b)) })
	return slices.Compact(out)
}

// joinScopes is the stored form of a list of scopes that is kept as one
// text: the canonical order, space-separated as in OAuth's scope parameter.
func joinScopes(scopes []string) string { return strings.Join(sortScopes(scopes), " ") }

// splitList reads a text made by joinScopes, or another space-separated
// list; nil if it is empty.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// optMicros is micros, with the zero time stored as 0.
func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// fromOptMicros reads optMicros.
func fromOptMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}
