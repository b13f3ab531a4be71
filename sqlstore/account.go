package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.AccountStore = (*Store)(nil)

// MemberSecret returns memberID's secret; a member from before member
// secrets gets one now.
func (s *Store) MemberSecret(ctx context.Context, memberID int64) ([]byte, error) {
	k, err := s.read(ctx).memberKey(memberID, false)
	if errors.Is(err, errNoKey) {
		if err = s.loadKEK(ctx); err == nil {
			err = s.write(ctx, func(t *tx) (err error) {
				k, err = t.memberKey(memberID, true)
				return err
			})
			if err == nil {
				s.keys.remember(memberID, k)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("member secret: %w", err)
	}
	return bytes.Clone(k.secret), nil
}

// DeleteMember erases memberID's account as glasshouse.AccountStore says,
// and drops the member's secret from memory once that has committed.
func (s *Store) DeleteMember(ctx context.Context, memberID int64) error {
	now := s.now()
	if err := s.write(ctx, func(t *tx) error { return t.deleteMember(memberID, now) }); err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	s.keys.forget(memberID)
	return nil
}

// eraseMember are the statements that delete a member's rows, once the
// member has left their conversations; every ? is the member id. The
// member's row itself stays, as a tombstone.
var eraseMember = []string{
	// The secret first: with it goes every message body the member sent.
	`DELETE FROM member_keys WHERE member_id = ?`,
	// Messages stored before bodies were sealed have their text in plain.
	`UPDATE messages SET text = '' WHERE sender_id = ? AND body IS NULL`,
	`DELETE FROM sessions WHERE member_id = ?`,
	`DELETE FROM friend_requests WHERE from_id = ?`,
	`DELETE FROM friend_requests WHERE to_id = ?`,
	// A friendship is two rows: the friends' rows are found from the
	// member's own.
	`DELETE FROM friendships WHERE friend_id = ? AND member_id IN (SELECT friend_id FROM friendships WHERE member_id = ?)`,
	`DELETE FROM friendships WHERE member_id = ?`,
	`DELETE FROM blocks WHERE member_id = ?`,
	`DELETE FROM blocks WHERE blocked_id = ?`,
	`DELETE FROM conversation_members WHERE member_id = ?`,
	`DELETE FROM hidden_messages WHERE member_id = ?`,
	`DELETE FROM grant_conversations WHERE member_id = ?`,
	`DELETE FROM grant_scopes WHERE member_id = ?`,
	`DELETE FROM grants WHERE member_id = ?`,
	`DELETE FROM tokens WHERE member_id = ?`,
	`DELETE FROM auth_requests WHERE member_id = ?`,
	// The records link the member to log event ids: they go, and what the
	// log keeps of them (no member) stays for the partners' usage counts.
	// The entries waiting in access_outbox stay, and are published (see
	// MarkIntegrated).
	`INSERT INTO erased_access_records (event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at, log_index)
		SELECT event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at, log_index
		FROM access_records WHERE member_id = ?`,
	`DELETE FROM access_records WHERE member_id = ?`,
	`DELETE FROM access_counters WHERE member_id = ?`,
	`DELETE FROM operators WHERE member_id = ?`,
}

// deleteMember erases a member and leaves the tombstone: no profile, a
// handle and an email address that no sign-up can take (neither is valid),
// and the time of deletion.
func (t *tx) deleteMember(memberID int64, now time.Time) error {
	if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE id = ? AND deleted_at = 0)`, memberID); err != nil {
		return err
	} else if !ok {
		return errNoMember()
	}
	// Leave every conversation; the new members_version tells the
	// writers' recipient caches.
	if _, err := t.exec(`UPDATE conversations SET member_count = member_count - 1, members_version = ?
		WHERE id IN (SELECT conversation_id FROM conversation_members WHERE member_id = ?)`, newMembersVersion(), memberID); err != nil {
		return fmt.Errorf("leave conversations: %w", err)
	}
	for _, q := range eraseMember {
		if _, err := t.exec(q, slices.Repeat([]any{memberID}, strings.Count(q, "?"))...); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(strings.Fields(q)[:3], " "), err)
		}
	}
	tombstone := fmt.Sprintf("deleted:%d", memberID)
	_, err := t.exec(`UPDATE members SET handle = ?, email = ?, display_name = '', phone = '', picture_url = '',
		vis_display_name = ?, vis_email = ?, vis_phone = ?, vis_picture_url = ?, password_hash = '', created_at = 0, deleted_at = ?
		WHERE id = ?`, tombstone, tombstone, glasshouse.VisibleToMe, glasshouse.VisibleToMe, glasshouse.VisibleToMe, glasshouse.VisibleToMe,
		micros(now), memberID)
	return err
}
