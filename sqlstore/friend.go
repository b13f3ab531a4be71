package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/glasshouse/glasshouse"
)

// peer finds the member with handle as viewer may see it: a member who
// blocked viewer does not exist for viewer (ENOTFOUND). blocked reports
// whether viewer has blocked the member.
func (t *tx) peer(viewer int64, handle string) (m *glasshouse.Member, blocked bool, err error) {
	m, err = scanMember(t.queryRow(`SELECT `+memberColumns+`,
			EXISTS(SELECT 1 FROM blocks b WHERE b.member_id = ? AND b.blocked_id = m.id)
		FROM members m
		WHERE m.handle = ? AND m.deleted_at = 0
		AND NOT EXISTS(SELECT 1 FROM blocks b WHERE b.member_id = m.id AND b.blocked_id = ?)`,
		viewer, handle, viewer), &blocked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, glasshouse.Errorf(glasshouse.ENOTFOUND, "No member @%s.", handle)
	}
	return m, blocked, err
}

// visiblePeer is peer for actions that no block lets through: a member
// viewer blocked is ENOTFOUND too.
func (t *tx) visiblePeer(viewer int64, handle string) (*glasshouse.Member, error) {
	m, blocked, err := t.peer(viewer, handle)
	if err != nil {
		return nil, err
	} else if blocked {
		return nil, glasshouse.Errorf(glasshouse.ENOTFOUND, "No member @%s.", handle)
	}
	return m, nil
}

func (t *tx) areFriends(a, b int64) (bool, error) {
	return t.exists(`SELECT EXISTS(SELECT 1 FROM friendships WHERE member_id = ? AND friend_id = ?)`, a, b)
}

// befriend records a friendship both ways.
func (t *tx) befriend(a, b int64, now int64) error {
	_, err := t.exec(`INSERT INTO friendships (member_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)
		ON CONFLICT DO NOTHING`, a, b, now, b, a, now)
	return err
}

// RequestFriend asks to befriend the member with handle to, or makes the
// two friends at once if that member already asked (returning nil).
func (s *Store) RequestFriend(ctx context.Context, from int64, to string) (*glasshouse.FriendRequest, error) {
	var req *glasshouse.FriendRequest
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		other, err := t.visiblePeer(from, to)
		if err != nil {
			return err
		}
		if other.ID == from {
			return glasshouse.Errorf(glasshouse.EINVALID, "You cannot befriend yourself.")
		}
		if ok, err := t.areFriends(from, other.ID); err != nil {
			return err
		} else if ok {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "You are already friends with @%s.", to)
		}
		if n, err := t.affected(`DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?`, other.ID, from); err != nil {
			return err
		} else if n > 0 {
			return t.befriend(from, other.ID, micros(now))
		}
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM friend_requests WHERE from_id = ? AND to_id = ?)`, from, other.ID); err != nil {
			return err
		} else if ok {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "You already asked @%s.", to)
		}
		me, err := t.member(`m.id = ?`, from)
		if err != nil {
			return err
		}
		var id int64
		if err := t.queryRow(`INSERT INTO friend_requests (from_id, to_id, created_at) VALUES (?, ?, ?) RETURNING id`,
			from, other.ID, micros(now)).Scan(&id); err != nil {
			return err
		}
		seen := other.SeenBy(from, false)
		req = &glasshouse.FriendRequest{ID: id, From: me, To: &seen, CreatedAt: now}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("request friend: %w", err)
	}
	return req, nil
}

func errNoRequest() error {
	return glasshouse.Errorf(glasshouse.ENOTFOUND, "Friend request not found.")
}

// AcceptFriendRequest makes the requester and memberID, its recipient,
// friends.
func (s *Store) AcceptFriendRequest(ctx context.Context, memberID, requestID int64) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		var from int64
		err := t.queryRow(`DELETE FROM friend_requests WHERE id = ? AND to_id = ? RETURNING from_id`, requestID, memberID).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoRequest()
		} else if err != nil {
			return err
		}
		return t.befriend(memberID, from, micros(now))
	})
	if err != nil {
		return fmt.Errorf("accept friend request: %w", err)
	}
	return nil
}

// DeclineFriendRequest deletes a request addressed to memberID.
func (s *Store) DeclineFriendRequest(ctx context.Context, memberID, requestID int64) error {
	if err := s.deleteRequest(ctx, `DELETE FROM friend_requests WHERE id = ? AND to_id = ?`, requestID, memberID); err != nil {
		return fmt.Errorf("decline friend request: %w", err)
	}
	return nil
}

// CancelFriendRequest deletes a request sent by memberID.
func (s *Store) CancelFriendRequest(ctx context.Context, memberID, requestID int64) error {
	if err := s.deleteRequest(ctx, `DELETE FROM friend_requests WHERE id = ? AND from_id = ?`, requestID, memberID); err != nil {
		return fmt.Errorf("cancel friend request: %w", err)
	}
	return nil
}

func (s *Store) deleteRequest(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(t *tx) error {
		if n, err := t.affected(query, args...); err != nil {
			return err
		} else if n == 0 {
			return errNoRequest()
		}
		return nil
	})
}

// FriendRequests lists memberID's pending requests both ways, oldest first.
func (s *Store) FriendRequests(ctx context.Context, memberID int64) (*glasshouse.FriendRequests, error) {
	var reqs glasshouse.FriendRequests
	err := s.view(ctx, func(t *tx) error {
		me, err := t.member(`m.id = ?`, memberID)
		if err != nil {
			return err
		}
		if reqs.Incoming, err = t.friendRequests(me, "to_id", "from_id"); err != nil {
			return err
		}
		reqs.Outgoing, err = t.friendRequests(me, "from_id", "to_id")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("friend requests: %w", err)
	}
	return &reqs, nil
}

// friendRequests lists the requests whose mine column is me, with the
// member in their other column as me sees it.
func (t *tx) friendRequests(me *glasshouse.Member, mine, other string) ([]*glasshouse.FriendRequest, error) {
	rows, err := t.query(`SELECT `+memberColumns+`, r.id, r.created_at
		FROM friend_requests r JOIN members m ON m.id = r.`+other+`
		WHERE r.`+mine+` = ? ORDER BY r.created_at, r.id`, me.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	reqs := []*glasshouse.FriendRequest{}
	for rows.Next() {
		var id, created int64
		m, err := scanMember(rows, &id, &created)
		if err != nil {
			return nil, err
		}
		seen := m.SeenBy(me.ID, false)
		r := &glasshouse.FriendRequest{ID: id, From: me, To: &seen, CreatedAt: fromMicros(created)}
		if mine == "to_id" {
			r.From, r.To = &seen, me
		}
		reqs = append(reqs, r)
	}
	return reqs, rows.Err()
}

// RemoveFriend ends the friendship between memberID and handle.
func (s *Store) RemoveFriend(ctx context.Context, memberID int64, handle string) error {
	err := s.write(ctx, func(t *tx) error {
		other, err := t.visiblePeer(memberID, handle)
		if err != nil {
			return err
		}
		n, err := t.affected(`DELETE FROM friendships WHERE (member_id = ? AND friend_id = ?) OR (member_id = ? AND friend_id = ?)`,
			memberID, other.ID, other.ID, memberID)
		if err != nil {
			return err
		} else if n == 0 {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "You are not friends with @%s.", handle)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove friend: %w", err)
	}
	return nil
}

// Friends lists memberID's friends by handle, as memberID sees them.
func (s *Store) Friends(ctx context.Context, memberID int64) ([]*glasshouse.Member, error) {
	ms, err := s.read(ctx).members(memberID, true, `SELECT `+memberColumns+`
		FROM friendships f JOIN members m ON m.id = f.friend_id
		WHERE f.member_id = ? ORDER BY m.handle`, memberID)
	if err != nil {
		return nil, fmt.Errorf("friends: %w", err)
	}
	return ms, nil
}

// members runs a query for memberColumns and returns the members as viewer
// sees them.
func (t *tx) members(viewer int64, friends bool, query string, args ...any) ([]*glasshouse.Member, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ms := []*glasshouse.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		seen := m.SeenBy(viewer, friends)
		ms = append(ms, &seen)
	}
	return ms, rows.Err()
}

// AreFriends reports whether a and b are friends.
func (s *Store) AreFriends(ctx context.Context, a, b int64) (bool, error) {
	ok, err := s.read(ctx).areFriends(a, b)
	if err != nil {
		return false, fmt.Errorf("are friends: %w", err)
	}
	return ok, nil
}

// Block blocks handle for memberID, ending any friendship and pending
// requests between them.
func (s *Store) Block(ctx context.Context, memberID int64, handle string) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		other, blocked, err := t.peer(memberID, handle)
		if err != nil {
			return err
		} else if other.ID == memberID {
			return glasshouse.Errorf(glasshouse.EINVALID, "You cannot block yourself.")
		} else if blocked {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "You have already blocked @%s.", handle)
		}
		if _, err := t.exec(`INSERT INTO blocks (member_id, blocked_id, created_at) VALUES (?, ?, ?)`, memberID, other.ID, micros(now)); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM friendships WHERE (member_id = ? AND friend_id = ?) OR (member_id = ? AND friend_id = ?)`,
			memberID, other.ID, other.ID, memberID); err != nil {
			return err
		}
		if _, err = t.exec(`DELETE FROM friend_requests WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)`,
			memberID, other.ID, other.ID, memberID); err != nil {
			return err
		}
		return t.bumpSharedConversations(memberID, other.ID)
	})
	if err != nil {
		return fmt.Errorf("block: %w", err)
	}
	return nil
}

// Unblock lifts memberID's block of handle.
func (s *Store) Unblock(ctx context.Context, memberID int64, handle string) error {
	err := s.write(ctx, func(t *tx) error {
		other, blocked, err := t.peer(memberID, handle)
		if err != nil {
			return err
		} else if !blocked {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "You have not blocked @%s.", handle)
		}
		if _, err = t.exec(`DELETE FROM blocks WHERE member_id = ? AND blocked_id = ?`, memberID, other.ID); err != nil {
			return err
		}
		return t.bumpSharedConversations(memberID, other.ID)
	})
	if err != nil {
		return fmt.Errorf("unblock: %w", err)
	}
	return nil
}

// Blocked lists the members memberID has blocked, by handle.
func (s *Store) Blocked(ctx context.Context, memberID int64) ([]*glasshouse.Member, error) {
	ms, err := s.read(ctx).members(memberID, false, `SELECT `+memberColumns+`
		FROM blocks b JOIN members m ON m.id = b.blocked_id
		WHERE b.member_id = ? ORDER BY m.handle`, memberID)
	if err != nil {
		return nil, fmt.Errorf("blocked: %w", err)
	}
	return ms, nil
}
