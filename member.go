package glasshouse

import (
	"context"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Visibility says who may see one profile field.
type Visibility string

const (
	VisibleToMe      Visibility = "me"      // only the member
	VisibleToFriends Visibility = "friends" // the member and their friends
)

// Validate reports whether v is a known visibility.
func (v Visibility) Validate() error {
	switch v {
	case VisibleToMe, VisibleToFriends:
		return nil
	}
	return Errorf(EINVALID, "Visibility must be %q or %q.", VisibleToMe, VisibleToFriends)
}

// Member is a person with an account. Handle is public and unique; every
// other profile field carries its own visibility. ID is internal and never
// shown to partners.
type Member struct {
	ID          int64     `json:"id"`
	Handle      string    `json:"handle"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	PictureURL  string    `json:"picture_url"`
	Visibility  Fields    `json:"visibility,omitzero"` // only in the member's own view
	CreatedAt   time.Time `json:"created_at"`
}

// Fields holds one Visibility per profile field.
type Fields struct {
	DisplayName Visibility `json:"display_name"`
	Email       Visibility `json:"email"`
	Phone       Visibility `json:"phone"`
	PictureURL  Visibility `json:"picture_url"`
}

// DefaultVisibility is what a new member starts with: name and picture for
// friends, email and phone for the member alone.
var DefaultVisibility = Fields{DisplayName: VisibleToFriends, Email: VisibleToMe, Phone: VisibleToMe, PictureURL: VisibleToFriends}

// Validate checks every field's visibility.
func (f Fields) Validate() error {
	for _, v := range []Visibility{f.DisplayName, f.Email, f.Phone, f.PictureURL} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// SeenBy returns the profile as viewer sees it: fields the viewer may not see
// are blank. isFriend says whether viewer is m's friend.
func (m Member) SeenBy(viewer int64, isFriend bool) Member {
	if viewer == m.ID {
		return m
	}
	show := func(v Visibility) bool { return v == VisibleToFriends && isFriend }
	out := Member{ID: m.ID, Handle: m.Handle, CreatedAt: m.CreatedAt}
	if show(m.Visibility.DisplayName) {
		out.DisplayName = m.DisplayName
	}
	if show(m.Visibility.Email) {
		out.Email = m.Email
	}
	if show(m.Visibility.Phone) {
		out.Phone = m.Phone
	}
	if show(m.Visibility.PictureURL) {
		out.PictureURL = m.PictureURL
	}
	return out
}

// Limits on member input.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
	MaxNameLen     = 100
)

var handleRE = regexp.MustCompile(`^[a-z0-9_]{3,30}$`)
var phoneRE = regexp.MustCompile(`^\+?[0-9 ()-]{4,32}$`)

// ValidateHandle checks a handle: 3 to 30 of a-z, 0-9 and underscore.
func ValidateHandle(h string) error {
	if !handleRE.MatchString(h) {
		return Errorf(EINVALID, "Handle must be 3 to 30 characters of a-z, 0-9 and _.")
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(p string) error {
	if n := utf8.RuneCountInString(p); n < MinPasswordLen {
		return Errorf(EINVALID, "Password must be at least %d characters.", MinPasswordLen)
	} else if len(p) > MaxPasswordLen {
		return Errorf(EINVALID, "Password must be at most %d bytes.", MaxPasswordLen)
	}
	return nil
}

// Signup is what a new member submits.
type Signup struct {
	Handle      string `json:"handle"`
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

// Validate checks a sign-up; the handle and email must still be unique.
func (s *Signup) Validate() error {
	if err := ValidateHandle(s.Handle); err != nil {
		return err
	}
	if err := validateEmail(s.Email); err != nil {
		return err
	}
	if s.Email == "" {
		return Errorf(EINVALID, "Email is required.")
	}
	if err := validateName(s.DisplayName); err != nil {
		return err
	}
	return ValidatePassword(s.Password)
}

// ProfileUpdate changes some profile fields; nil means unchanged.
type ProfileUpdate struct {
	DisplayName *string `json:"display_name"`
	Email       *string `json:"email"`
	Phone       *string `json:"phone"`
	PictureURL  *string `json:"picture_url"`
	Visibility  *Fields `json:"visibility"`
}

// Validate checks each given field.
func (u *ProfileUpdate) Validate() error {
	if u.DisplayName != nil {
		if err := validateName(*u.DisplayName); err != nil {
			return err
		}
	}
	if u.Email != nil {
		if *u.Email == "" {
			return Errorf(EINVALID, "Email is required.")
		}
		if err := validateEmail(*u.Email); err != nil {
			return err
		}
	}
	if u.Phone != nil && *u.Phone != "" && !phoneRE.MatchString(*u.Phone) {
		return Errorf(EINVALID, "Phone must be digits, spaces, ( ) - and an optional leading +.")
	}
	if u.PictureURL != nil && *u.PictureURL != "" {
		p, err := url.Parse(*u.PictureURL)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(*u.PictureURL) > 2048 {
			return Errorf(EINVALID, "Picture URL must be an http or https URL of at most 2048 bytes.")
		}
	}
	if u.Visibility != nil {
		return u.Visibility.Validate()
	}
	return nil
}

// validateName checks a display name: at most MaxNameLen characters of
// UTF-8, without leading or trailing spaces, and none of the control and
// invisible formatting characters that checkLine refuses.
func validateName(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLen || strings.TrimSpace(s) != s {
		return Errorf(EINVALID, "Display name must be valid UTF-8, at most %d characters, without leading or trailing spaces.", MaxNameLen)
	}
	return checkLine("Display name", s)
}

func validateEmail(s string) error {
	if s == "" {
		return nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return Errorf(EINVALID, "Email must be a plain address such as name@example.org.")
	}
	return nil
}

// Session is a signed-in client. Only the SHA-256 of its token is stored.
type Session struct {
	TokenHash []byte
	MemberID  int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MemberStore keeps members and their credentials.
type MemberStore interface {
	// CreateMember inserts m (ID and CreatedAt are set) with the given
	// password hash. ECONFLICT if the handle or email is taken.
	CreateMember(ctx context.Context, m *Member, passwordHash string) error
	// MemberByID returns a member. ENOTFOUND if absent.
	MemberByID(ctx context.Context, id int64) (*Member, error)
	// MemberByHandle returns a member. ENOTFOUND if absent.
	MemberByHandle(ctx context.Context, handle string) (*Member, error)
	// PasswordHash returns the member id and stored hash for a handle.
	// ENOTFOUND if absent.
	PasswordHash(ctx context.Context, handle string) (int64, string, error)
	// SetPassword stores a new hash and ends every session of the member
	// except the one whose token hash is keep (nil ends all).
	// ENOTFOUND if the member is absent.
	SetPassword(ctx context.Context, memberID int64, passwordHash string, keep []byte) error
	// UpdateProfile applies a validated update and returns the new member.
	// ENOTFOUND if absent, ECONFLICT if the new email is taken.
	UpdateProfile(ctx context.Context, memberID int64, u ProfileUpdate) (*Member, error)
}

// SessionStore keeps sessions.
type SessionStore interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns an unexpired session. EUNAUTHORIZED if
	// absent or expired.
	SessionByTokenHash(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// DeleteSession ends one session; no error if it was already gone.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteMemberSessions ends every session of a member.
	DeleteMemberSessions(ctx context.Context, memberID int64) error
}
