package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.GrantStore = (*Store)(nil)

func errNoGrant() error {
	return glasshouse.Errorf(glasshouse.ENOTFOUND, "You have not connected this app.")
}

// grantColumns are the columns grantRow scans, from grants g joined with
// partners p: the grant with its partner's name, then its scopes and its
// picked conversations, each as one space-separated text in no order (NULL
// if none).
const grantColumns = `g.id, g.member_id, g.partner_id, p.name, g.agreement_version, g.real_email, g.relay_email,
	g.relay_enabled, g.granted_at, g.confirmed_at, g.expires_at,
	(SELECT string_agg(gs.scope, ' ') FROM grant_scopes gs WHERE gs.member_id = g.member_id AND gs.partner_id = g.partner_id),
	(SELECT string_agg(CAST(gc.conversation_id AS TEXT), ' ') FROM grant_conversations gc
		WHERE gc.member_id = g.member_id AND gc.partner_id = g.partner_id)`

// grantRow receives grantColumns. Every field is nullable, so that it also
// receives the missing grant of a LEFT JOIN.
type grantRow struct {
	id, memberID, partnerID, version   sql.NullInt64
	name, relay, scopes, conversations sql.NullString
	realEmail, relayEnabled            sql.NullBool
	granted, confirmed, expires        sql.NullInt64
}

// dest returns the scan destinations of grantColumns.
func (r *grantRow) dest() []any {
	return []any{&r.id, &r.memberID, &r.partnerID, &r.name, &r.version, &r.realEmail, &r.relay,
		&r.relayEnabled, &r.granted, &r.confirmed, &r.expires, &r.scopes, &r.conversations}
}

// found reports whether the row held a grant.
func (r *grantRow) found() bool { return r.id.Valid }

// grant returns the grant the row held.
func (r *grantRow) grant() (*glasshouse.Grant, error) {
	g := &glasshouse.Grant{ID: r.id.Int64, MemberID: r.memberID.Int64, PartnerID: r.partnerID.Int64, PartnerName: r.name.String,
		AgreementVersion: int(r.version.Int64), Scopes: sortScopes(splitList(r.scopes.String)), RealEmail: r.realEmail.Bool,
		RelayEmail: r.relay.String, RelayEnabled: r.relayEnabled.Bool, GrantedAt: fromMicros(r.granted.Int64),
		ConfirmedAt: fromMicros(r.confirmed.Int64), ExpiresAt: fromMicros(r.expires.Int64)}
	for _, c := range splitList(r.conversations.String) {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("grant %d: conversation %q: %w", g.ID, c, err)
		}
		g.Conversations = append(g.Conversations, id)
	}
	slices.Sort(g.Conversations)
	return g, nil
}

// grants returns the grants matching where, a condition on grants g and
// partners p, newest first, with their scopes and picked conversations: one
// query.
func (t *tx) grants(where string, args ...any) ([]*glasshouse.Grant, error) {
	rows, err := t.query(`SELECT `+grantColumns+` FROM grants g JOIN partners p ON p.id = g.partner_id
		WHERE `+where+` ORDER BY g.granted_at DESC, g.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gs := []*glasshouse.Grant{}
	for rows.Next() {
		var r grantRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		g, err := r.grant()
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
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
	if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE id = ? AND deleted_at = 0)`, g.MemberID); err != nil {
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
	g, err := s.read(ctx).grant(memberID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	return g, nil
}

// Grants lists memberID's grants, newest first.
func (s *Store) Grants(ctx context.Context, memberID int64) ([]*glasshouse.Grant, error) {
	gs, err := s.read(ctx).grants(`g.member_id = ?`, memberID)
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

// FriendsWithGrants returns what GrantingFriends lists, each friend with
// the fields of their member row and of their grant to partnerID that the
// listing can use (see glasshouse.FriendGrant), in one query. EINVALID if
// limit is not positive.
func (s *Store) FriendsWithGrants(ctx context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]glasshouse.FriendGrant, error) {
	return s.read(ctx).friendsWithGrants(memberID, partnerID, scope, now, afterID, limit)
}

func (t *tx) friendsWithGrants(memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]glasshouse.FriendGrant, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("friends with grants: %w", glasshouse.Errorf(glasshouse.EINVALID, "The limit must be positive."))
	}
	rows, err := t.query(`SELECT m.id, m.display_name, m.picture_url, m.vis_display_name, m.vis_picture_url, g.expires_at,
			(SELECT string_agg(gs.scope, ' ') FROM grant_scopes gs WHERE gs.member_id = g.member_id AND gs.partner_id = g.partner_id)
		FROM friendships f
		JOIN grants g ON g.member_id = f.friend_id AND g.partner_id = ?
		JOIN members m ON m.id = f.friend_id
		WHERE f.member_id = ? AND f.friend_id > ? AND g.expires_at > ?
			AND EXISTS (SELECT 1 FROM grant_scopes fs WHERE fs.member_id = g.member_id AND fs.partner_id = g.partner_id AND fs.scope = ?)
		ORDER BY f.friend_id LIMIT ?`, partnerID, memberID, afterID, micros(now), scope, limit)
	if err != nil {
		return nil, fmt.Errorf("friends with grants: %w", err)
	}
	defer rows.Close()
	out := []glasshouse.FriendGrant{}
	for rows.Next() {
		var m glasshouse.Member
		var expires int64
		var scopes sql.NullString
		if err := rows.Scan(&m.ID, &m.DisplayName, &m.PictureURL, &m.Visibility.DisplayName, &m.Visibility.PictureURL, &expires, &scopes); err != nil {
			return nil, fmt.Errorf("friends with grants: %w", err)
		}
		out = append(out, glasshouse.FriendGrant{Member: &m, Grant: &glasshouse.Grant{MemberID: m.ID, PartnerID: partnerID,
			Scopes: sortScopes(splitList(scopes.String)), ExpiresAt: fromMicros(expires)}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("friends with grants: %w", err)
	}
	return out, nil
}
