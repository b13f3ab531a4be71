package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.GrantStore = (*Store)(nil)

func errNoGrant() error {
	return glasshouse.Errorf(glasshouse.ENOTFOUND, "You have not connected this app.")
}

// grantColumns are the columns grants reads, from grants g and partners p.
const grantColumns = `g.id, g.member_id, g.partner_id, p.name, g.agreement_version, g.real_email, g.relay_email,
	g.relay_enabled, g.granted_at, g.confirmed_at, g.expires_at, g.last_access_at`

// grants returns the grants matching where, a condition on g.member_id and
// g.partner_id only (it also selects their scopes and conversations), newest
// first, with their scopes and picked conversations.
func (t *tx) grants(where string, args ...any) ([]*glasshouse.Grant, error) {
	rows, err := t.query(`SELECT `+grantColumns+` FROM grants g JOIN partners p ON p.id = g.partner_id
		WHERE `+where+` ORDER BY g.granted_at DESC, g.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gs := []*glasshouse.Grant{}
	byPartner := map[int64]*glasshouse.Grant{}
	for rows.Next() {
		g := glasshouse.Grant{Scopes: []string{}}
		var relay sql.NullString
		var granted, confirmed, expires, access int64
		if err := rows.Scan(&g.ID, &g.MemberID, &g.PartnerID, &g.PartnerName, &g.AgreementVersion, &g.RealEmail, &relay,
			&g.RelayEnabled, &granted, &confirmed, &expires, &access); err != nil {
			return nil, err
		}
		g.RelayEmail = relay.String
		g.GrantedAt, g.ConfirmedAt, g.ExpiresAt = fromMicros(granted), fromMicros(confirmed), fromMicros(expires)
		g.LastAccessAt = fromOptMicros(access)
		gs = append(gs, &g)
		byPartner[g.PartnerID] = &g
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(gs) == 0 {
		return gs, nil
	}

	if rows, err = t.query(`SELECT g.partner_id, g.scope FROM grant_scopes g WHERE `+where, args...); err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var partnerID int64
		var scope string
		if err := rows.Scan(&partnerID, &scope); err != nil {
			return nil, err
		}
		if g := byPartner[partnerID]; g != nil {
			g.Scopes = append(g.Scopes, scope)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()

	if rows, err = t.query(`SELECT g.partner_id, g.conversation_id FROM grant_conversations g WHERE `+where+`
		ORDER BY g.conversation_id`, args...); err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var partnerID, conversationID int64
		if err := rows.Scan(&partnerID, &conversationID); err != nil {
			return nil, err
		}
		if g := byPartner[partnerID]; g != nil {
			g.Conversations = append(g.Conversations, conversationID)
		}
	}
	for _, g := range gs {
		g.Scopes = sortScopes(g.Scopes)
	}
	return gs, rows.Err()
}

// grant returns memberID's grant to partnerID; ENOTFOUND if none.
func (t *tx) grant(memberID, partnerID int64) (*glasshouse.Grant, error) {
	gs, err := t.grants(`g.member_id = ? AND g.partner_id = ?`, memberID, partnerID)
	if err != nil {
		return nil, err
	} else if len(gs) == 0 {
		return nil, errNoGrant()
	}
	return gs[0], nil
}

// checkGrant checks what SaveGrant can check without the database.
func checkGrant(g *glasshouse.Grant) error {
	for i, s := range g.Scopes {
		if !slices.Contains(glasshouse.DataScopes, s) {
			return glasshouse.Errorf(glasshouse.EINVALID, "Unknown scope %q; known scopes: %s.", s, strings.Join(glasshouse.DataScopes, ", "))
		} else if slices.Contains(g.Scopes[:i], s) {
			return glasshouse.Errorf(glasshouse.EINVALID, "Scope %q is listed twice.", s)
		}
	}
	if len(g.Conversations) > 0 && !slices.Contains(g.Scopes, glasshouse.ScopeMessagesRead) {
		return glasshouse.Errorf(glasshouse.EINVALID, "Conversations are picked only for %s.", glasshouse.ScopeMessagesRead)
	}
	for i, c := range g.Conversations {
		if slices.Contains(g.Conversations[:i], c) {
			return glasshouse.Errorf(glasshouse.EINVALID, "Conversation %d is picked twice.", c)
		}
	}
	if g.ConfirmedAt.IsZero() || !g.ExpiresAt.After(g.ConfirmedAt) {
		return glasshouse.Errorf(glasshouse.EINVALID, "A grant needs a confirmation time and a later expiry.")
	}
	return nil
}

// SaveGrant records g.MemberID's consent to g.PartnerID, replacing the
// agreement version, scopes, email choice and conversations of an existing
// grant and setting its ConfirmedAt and ExpiresAt from g. A new grant starts
// at g.GrantedAt (or g.ConfirmedAt if zero) with the relay address
// relayEmail; an existing one keeps its GrantedAt, relay address and relay
// switch (it takes relayEmail only if it had no address). Tokens carrying a
// scope that the new consent drops are revoked, as by RevokeScope.
//
// EINVALID for unknown or repeated scopes, scopes outside the agreement
// version, conversations without messages.read, or a missing confirmation
// time or expiry; ENOTFOUND for an absent member, partner, agreement
// version, or a conversation the member is not in; ECONFLICT if relayEmail
// is another grant's address.
func (s *Store) SaveGrant(ctx context.Context, g glasshouse.Grant, relayEmail string) (*glasshouse.Grant, error) {
	if err := checkGrant(&g); err != nil {
		return nil, fmt.Errorf("save grant: %w", err)
	}
	now := s.now()
	var out *glasshouse.Grant
	err := s.write(ctx, func(t *tx) error {
		if err := t.checkGrant(&g); err != nil {
			return err
		}
		old, err := t.grant(g.MemberID, g.PartnerID)
		switch glasshouse.ErrorCode(err) {
		case "":
			err = t.replaceGrant(&g, relayEmail)
		case glasshouse.ENOTFOUND:
			err = t.insertGrant(&g, relayEmail)
		}
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The relay address %q is taken.", relayEmail)
		} else if err != nil {
			return err
		}
		for _, scope := range g.Scopes {
			if _, err := t.exec(`INSERT INTO grant_scopes (member_id, partner_id, scope) VALUES (?, ?, ?)`, g.MemberID, g.PartnerID, scope); err != nil {
				return err
			}
		}
		for _, c := range g.Conversations {
			if _, err := t.exec(`INSERT INTO grant_conversations (member_id, partner_id, conversation_id) VALUES (?, ?, ?)`,
				g.MemberID, g.PartnerID, c); err != nil {
				return err
			}
		}
		if old != nil {
			for _, scope := range old.Scopes {
				if !slices.Contains(g.Scopes, scope) {
					if err := t.revokeTokensWithScope(g.MemberID, g.PartnerID, scope, now); err != nil {
						return err
					}
				}
			}
		}
		out, err = t.grant(g.MemberID, g.PartnerID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save grant: %w", err)
	}
	return out, nil
}

// checkGrant checks g against the database: its member, agreement version
// and conversations.
func (t *tx) checkGrant(g *glasshouse.Grant) error {
	if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE id = ?)`, g.MemberID); err != nil {
		return err
	} else if !ok {
		return errNoMember()
	}
	a, err := t.agreement(`a.partner_id = ? AND a.version = ?`, g.PartnerID, g.AgreementVersion)
	if err != nil {
		return err
	}
	for _, s := range g.Scopes {
		if !slices.Contains(a.Scopes, s) {
			return glasshouse.Errorf(glasshouse.EINVALID, "Scope %q is not in version %d of the agreement.", s, a.Version)
		}
	}
	for _, c := range g.Conversations {
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM conversation_members WHERE member_id = ? AND conversation_id = ?)`,
			g.MemberID, c); err != nil {
			return err
		} else if !ok {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "Conversation %d not found.", c)
		}
	}
	return nil
}

// insertGrant inserts g's row, without scopes and conversations.
func (t *tx) insertGrant(g *glasshouse.Grant, relayEmail string) error {
	granted := g.GrantedAt
	if granted.IsZero() {
		granted = g.ConfirmedAt
	}
	var relay sql.NullString
	if relayEmail != "" {
		relay = sql.NullString{String: relayEmail, Valid: true}
	}
	_, err := t.exec(`INSERT INTO grants (member_id, partner_id, agreement_version, real_email, relay_email, relay_enabled,
		granted_at, confirmed_at, expires_at) VALUES (?, ?, ?, ?, ?, TRUE, ?, ?, ?)`,
		g.MemberID, g.PartnerID, g.AgreementVersion, g.RealEmail, relay, micros(granted), micros(g.ConfirmedAt), micros(g.ExpiresAt))
	return err
}

// replaceGrant updates g's row and deletes its scopes and conversations.
func (t *tx) replaceGrant(g *glasshouse.Grant, relayEmail string) error {
	var relay sql.NullString
	if relayEmail != "" {
		relay = sql.NullString{String: relayEmail, Valid: true}
	}
	if _, err := t.exec(`UPDATE grants SET agreement_version = ?, real_email = ?, confirmed_at = ?, expires_at = ?,
		relay_email = COALESCE(relay_email, ?) WHERE member_id = ? AND partner_id = ?`,
		g.AgreementVersion, g.RealEmail, micros(g.ConfirmedAt), micros(g.ExpiresAt), relay, g.MemberID, g.PartnerID); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM grant_scopes WHERE member_id = ? AND partner_id = ?`, g.MemberID, g.PartnerID); err != nil {
		return err
	}
	_, err := t.exec(`DELETE FROM grant_conversations WHERE member_id = ? AND partner_id = ?`, g.MemberID, g.PartnerID)
	return err
}

// Grant returns memberID's grant to partnerID, expired or not; ENOTFOUND if
// there is none.
func (s *Store) Grant(ctx context.Context, memberID, partnerID int64) (*glasshouse.Grant, error) {
	var g *glasshouse.Grant
	err := s.view(ctx, func(t *tx) (err error) {
		g, err = t.grant(memberID, partnerID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	return g, nil
}

// Grants lists memberID's grants, newest first.
func (s *Store) Grants(ctx context.Context, memberID int64) ([]*glasshouse.Grant, error) {
	var gs []*glasshouse.Grant
	err := s.view(ctx, func(t *tx) (err error) {
		gs, err = t.grants(`g.member_id = ?`, memberID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	return gs, nil
}

// RevokeGrant deletes memberID's grant to partnerID and revokes every token
// of the pair. ENOTFOUND.
func (s *Store) RevokeGrant(ctx context.Context, memberID, partnerID int64) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		if n, err := t.affected(`DELETE FROM grants WHERE member_id = ? AND partner_id = ?`, memberID, partnerID); err != nil {
			return err
		} else if n == 0 {
			return errNoGrant()
		}
		_, err := t.exec(`UPDATE tokens SET revoked_at = ? WHERE member_id = ? AND partner_id = ? AND revoked_at = 0`,
			micros(now), memberID, partnerID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	return nil
}

// RevokeScope removes scope from memberID's grant to partnerID (with the
// picked conversations, for messages.read) and revokes every token of the
// pair that carries it. ENOTFOUND if the grant or the scope is absent.
func (s *Store) RevokeScope(ctx context.Context, memberID, partnerID int64, scope string) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		n, err := t.affected(`DELETE FROM grant_scopes WHERE member_id = ? AND partner_id = ? AND scope = ?`, memberID, partnerID, scope)
		if err != nil {
			return err
		} else if n == 0 {
			if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM grants WHERE member_id = ? AND partner_id = ?)`, memberID, partnerID); err != nil {
				return err
			} else if !ok {
				return errNoGrant()
			}
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "This app does not have the scope %q.", scope)
		}
		if scope == glasshouse.ScopeMessagesRead {
			if _, err := t.exec(`DELETE FROM grant_conversations WHERE member_id = ? AND partner_id = ?`, memberID, partnerID); err != nil {
				return err
			}
		}
		return t.revokeTokensWithScope(memberID, partnerID, scope, now)
	})
	if err != nil {
		return fmt.Errorf("revoke scope: %w", err)
	}
	return nil
}

// revokeTokensWithScope revokes the tokens of memberID at partnerID whose
// scopes include scope.
func (t *tx) revokeTokensWithScope(memberID, partnerID int64, scope string, now time.Time) error {
	_, err := t.exec(`UPDATE tokens SET revoked_at = ?
		WHERE member_id = ? AND partner_id = ? AND revoked_at = 0 AND (' ' || scopes || ' ') LIKE ? ESCAPE '\'`,
		micros(now), memberID, partnerID, "% "+likeEscaper.Replace(scope)+" %")
	return err
}

// likeEscaper escapes the wildcards of a LIKE pattern whose escape
// character is a backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SetRelayEnabled turns memberID's relay address at partnerID on or off.
// ENOTFOUND if there is no grant.
func (s *Store) SetRelayEnabled(ctx context.Context, memberID, partnerID int64, enabled bool) error {
	err := s.write(ctx, func(t *tx) error {
		if n, err := t.affected(`UPDATE grants SET relay_enabled = ? WHERE member_id = ? AND partner_id = ?`, enabled, memberID, partnerID); err != nil {
			return err
		} else if n == 0 {
			return errNoGrant()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set relay enabled: %w", err)
	}
	return nil
}

// GrantingFriends returns, in ascending id order after afterID, up to limit
// friends of memberID whose own grant to partnerID is live at now and
// includes scope. EINVALID if limit is not positive.
func (s *Store) GrantingFriends(ctx context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]int64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("granting friends: %w", glasshouse.Errorf(glasshouse.EINVALID, "The limit must be positive."))
	}
	ids, err := s.read(ctx).int64s(`SELECT f.friend_id FROM friendships f
		JOIN grants g ON g.member_id = f.friend_id AND g.partner_id = ?
		JOIN grant_scopes gs ON gs.member_id = g.member_id AND gs.partner_id = g.partner_id AND gs.scope = ?
		WHERE f.member_id = ? AND f.friend_id > ? AND g.expires_at > ?
		ORDER BY f.friend_id LIMIT ?`, partnerID, scope, memberID, afterID, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("granting friends: %w", err)
	}
	return ids, nil
}
