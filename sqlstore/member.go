package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// memberColumns are the columns scanMember reads, from members aliased m.
const memberColumns = `m.id, m.handle, m.display_name, m.email, m.phone, m.picture_url,
	m.vis_display_name, m.vis_email, m.vis_phone, m.vis_picture_url, m.created_at`

// scanMember reads memberColumns, then extra.
func scanMember(row scanner, extra ...any) (*glasshouse.Member, error) {
	var m glasshouse.Member
	var created int64
	dest := append([]any{&m.ID, &m.Handle, &m.DisplayName, &m.Email, &m.Phone, &m.PictureURL,
		&m.Visibility.DisplayName, &m.Visibility.Email, &m.Visibility.Phone, &m.Visibility.PictureURL, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.CreatedAt = fromMicros(created)
	return &m, nil
}

func errNoMember() error { return glasshouse.Errorf(glasshouse.ENOTFOUND, "Member not found.") }

// CreateMember inserts m with the given password hash and a new secret,
// and sets its ID and CreatedAt. Blank visibilities take their
// glasshouse.DefaultVisibility.
func (s *Store) CreateMember(ctx context.Context, m *glasshouse.Member, passwordHash string) error {
	vis := withDefaultVisibility(m.Visibility)
	now := s.now()
	if err := s.loadKEK(ctx); err != nil {
		return fmt.Errorf("create member: %w", err)
	}
	var id int64
	var key *memberKey
	err := s.write(ctx, func(t *tx) error {
		if taken, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE handle = ?)`, m.Handle); err != nil {
			return err
		} else if taken {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The handle %q is taken.", m.Handle)
		}
		if err := t.checkEmailFree(m.Email, 0); err != nil {
			return err
		}
		err := t.queryRow(`INSERT INTO members (handle, display_name, email, phone, picture_url,
			vis_display_name, vis_email, vis_phone, vis_picture_url, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.Handle, m.DisplayName, m.Email, m.Phone, m.PictureURL,
			vis.DisplayName, vis.Email, vis.Phone, vis.PictureURL, passwordHash, micros(now)).Scan(&id)
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The handle or email is taken.")
		} else if err != nil {
			return err
		}
		key, err = t.newMemberKey(id)
		return err
	})
	if err != nil {
		return fmt.Errorf("create member: %w", err)
	}
	s.keys.remember(id, key)
	m.ID, m.CreatedAt, m.Visibility = id, now, vis
	return nil
}

func withDefaultVisibility(f glasshouse.Fields) glasshouse.Fields {
	d := glasshouse.DefaultVisibility
	for _, p := range []struct{ v, def *glasshouse.Visibility }{
		{&f.DisplayName, &d.DisplayName}, {&f.Email, &d.Email}, {&f.Phone, &d.Phone}, {&f.PictureURL, &d.PictureURL},
	} {
		if *p.v == "" {
			*p.v = *p.def
		}
	}
	return f
}

// checkEmailFree returns ECONFLICT if another member than self uses email,
// ignoring case.
func (t *tx) checkEmailFree(email string, self int64) error {
	taken, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE lower(email) = lower(?) AND id <> ?)`, email, self)
	if err != nil {
		return err
	} else if taken {
		return glasshouse.Errorf(glasshouse.ECONFLICT, "The email address is taken.")
	}
	return nil
}

// MemberByID returns a member; ENOTFOUND if absent.
func (s *Store) MemberByID(ctx context.Context, id int64) (*glasshouse.Member, error) {
	m, err := s.read(ctx).member(`m.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("member by id: %w", err)
	}
	return m, nil
}

// MemberByHandle returns a member; ENOTFOUND if absent.
func (s *Store) MemberByHandle(ctx context.Context, handle string) (*glasshouse.Member, error) {
	m, err := s.read(ctx).member(`m.handle = ?`, handle)
	if err != nil {
		return nil, fmt.Errorf("member by handle: %w", err)
	}
	return m, nil
}

// member returns the member matching where (a condition on members m),
// unless deleted.
func (t *tx) member(where string, args ...any) (*glasshouse.Member, error) {
	m, err := scanMember(t.queryRow(`SELECT `+memberColumns+` FROM members m WHERE m.deleted_at = 0 AND `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoMember()
	}
	return m, err
}

// PasswordHash returns the id and password hash of the member with handle.
func (s *Store) PasswordHash(ctx context.Context, handle string) (int64, string, error) {
	var id int64
	var hash string
	err := s.read(ctx).queryRow(`SELECT id, password_hash FROM members WHERE handle = ? AND deleted_at = 0`, handle).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("password hash: %w", errNoMember())
	} else if err != nil {
		return 0, "", fmt.Errorf("password hash: %w", err)
	}
	return id, hash, nil
}

// SetPassword stores a new hash and ends every session of the member but
// the one whose token hash is keep.
func (s *Store) SetPassword(ctx context.Context, memberID int64, passwordHash string, keep []byte) error {
	err := s.write(ctx, func(t *tx) error {
		if n, err := t.affected(`UPDATE members SET password_hash = ? WHERE id = ? AND deleted_at = 0`, passwordHash, memberID); err != nil {
			return err
		} else if n == 0 {
			return errNoMember()
		}
		var err error
		if keep == nil {
			_, err = t.exec(`DELETE FROM sessions WHERE member_id = ?`, memberID)
		} else {
			_, err = t.exec(`DELETE FROM sessions WHERE member_id = ? AND token_hash <> ?`, memberID, keep)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// UpdateProfile applies a validated update and returns the updated member.
func (s *Store) UpdateProfile(ctx context.Context, memberID int64, u glasshouse.ProfileUpdate) (*glasshouse.Member, error) {
	var sets []string
	var args []any
	set := func(column string, v any) {
		sets = append(sets, column+" = ?")
		args = append(args, v)
	}
	if u.DisplayName != nil {
		set("display_name", *u.DisplayName)
	}
	if u.Email != nil {
		set("email", *u.Email)
	}
	if u.Phone != nil {
		set("phone", *u.Phone)
	}
	if u.PictureURL != nil {
		set("picture_url", *u.PictureURL)
	}
	if v := u.Visibility; v != nil {
		set("vis_display_name", v.DisplayName)
		set("vis_email", v.Email)
		set("vis_phone", v.Phone)
		set("vis_picture_url", v.PictureURL)
	}

	var m *glasshouse.Member
	err := s.write(ctx, func(t *tx) error {
		if u.Email != nil {
			if err := t.checkEmailFree(*u.Email, memberID); err != nil {
				return err
			}
		}
		if len(sets) > 0 {
			n, err := t.affected(`UPDATE members SET `+strings.Join(sets, ", ")+` WHERE id = ? AND deleted_at = 0`, append(args, memberID)...)
			if s.dialect.IsUniqueViolation(err) {
				return glasshouse.Errorf(glasshouse.ECONFLICT, "The email address is taken.")
			} else if err != nil {
				return err
			} else if n == 0 {
				return errNoMember()
			}
		}
		var err error
		m, err = t.member(`m.id = ?`, memberID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	return m, nil
}

// CreateSession stores sess. A zero CreatedAt becomes now and a zero
// ExpiresAt becomes CreatedAt plus Config.SessionTTL. The member's expired
// sessions are removed on the way. ENOTFOUND if the member is absent,
// ECONFLICT if the token hash is already used.
func (s *Store) CreateSession(ctx context.Context, sess *glasshouse.Session) error {
	created, expires := sess.CreatedAt, sess.ExpiresAt
	if created.IsZero() {
		created = s.now()
	}
	if expires.IsZero() {
		expires = created.Add(s.cfg.SessionTTL)
	}
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE id = ? AND deleted_at = 0)`, sess.MemberID); err != nil {
			return err
		} else if !ok {
			return errNoMember()
		}
		if _, err := t.exec(`DELETE FROM sessions WHERE member_id = ? AND expires_at <= ?`, sess.MemberID, micros(now)); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO sessions (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			sess.TokenHash, sess.MemberID, micros(created), micros(expires))
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The session token is already in use.")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMicros(micros(created)), fromMicros(micros(expires))
	return nil
}

// SessionByTokenHash returns the session with hash if it is unexpired at now.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte, now time.Time) (*glasshouse.Session, error) {
	sess := glasshouse.Session{TokenHash: hash}
	var created, expires int64
	err := s.read(ctx).queryRow(`SELECT member_id, created_at, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?`,
		hash, micros(now)).Scan(&sess.MemberID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "The session has expired or does not exist.")
	} else if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &sess, nil
}

// DeleteSession ends one session; no error if it was already gone.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	err := s.write(ctx, func(t *tx) error {
		_, err := t.exec(`DELETE FROM sessions WHERE token_hash = ?`, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteMemberSessions ends every session of a member.
func (s *Store) DeleteMemberSessions(ctx context.Context, memberID int64) error {
	err := s.write(ctx, func(t *tx) error {
		_, err := t.exec(`DELETE FROM sessions WHERE member_id = ?`, memberID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete member sessions: %w", err)
	}
	return nil
}
