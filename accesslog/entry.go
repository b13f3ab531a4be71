package accesslog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Version is the entry format version this package writes and reads.
const Version = 1

// Limits of the entry format (docs/log-format.md).
const (
	maxScopes  = 32
	maxReason  = 64
	maxScope   = 64
	maxTimeSec = 253402300740 // 9999-12-31T23:59:00Z
)

// ErrMalformed is wrapped by every error of Decode and of encoding an
// invalid Entry.
var ErrMalformed = errors.New("malformed entry")

// EventID is the random 128-bit identifier of one access.
type EventID [16]byte

// NewEventID reads a random event id from r (crypto/rand.Reader when nil).
func NewEventID(r io.Reader) (EventID, error) {
	if r == nil {
		r = rand.Reader
	}
	var id EventID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return id, fmt.Errorf("event id: %w", err)
	}
	return id, nil
}

// ParseEventID parses 32 lowercase hex digits.
func ParseEventID(s string) (EventID, error) {
	var id EventID
	if len(s) != 2*len(id) || !isLowerHex(s) {
		return id, fmt.Errorf("event id %q: want 32 lowercase hex digits", s)
	}
	hex.Decode(id[:], []byte(s))
	return id, nil
}

// String returns the id as 32 lowercase hex digits.
func (id EventID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler (JSON uses it).
func (id EventID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *EventID) UnmarshalText(b []byte) error {
	v, err := ParseEventID(string(b))
	*id = v
	return err
}

// Decision is whether the policy allowed a request.
type Decision uint8

// Decisions. The zero value is invalid.
const (
	Granted Decision = 1
	Denied  Decision = 2
)

func (d Decision) String() string {
	switch d {
	case Granted:
		return "granted"
	case Denied:
		return "denied"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Tag is a member tag: HMAC-SHA256 under the member's key of a per-member
// counter (see MemberKey).
type Tag [32]byte

func (t Tag) String() string { return hex.EncodeToString(t[:]) }

// Entry is one access, as it appears in the log. It names no member: the
// member is present only as Tag.
type Entry struct {
	EventID          EventID
	Time             time.Time // encoded rounded down to the minute, UTC
	PartnerID        string    // the partner's OAuth client id
	AgreementVersion uint32    // the agreement in force; 0 when none was known
	Endpoint         string    // the route pattern, "GET /graph/v1/me/friends"; never a concrete path with ids
	Scopes           []string  // the scopes used (or needed, when denied); encoded sorted
	Decision         Decision
	Reason           string // "" when served; otherwise the error code sent (required when denied)
	Items            uint32 // items returned or written
	Tag              Tag
}

// MarshalBinary returns the canonical encoding of e (docs/log-format.md).
// It rounds Time down to the minute and sorts Scopes; every other field must
// already be valid, or the error wraps ErrMalformed.
func (e *Entry) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, 160+len(e.PartnerID)+len(e.Endpoint)+len(e.Reason)+16*len(e.Scopes)))
}

// minuteOf returns t in Unix seconds rounded down to the minute: the time an
// entry records.
func minuteOf(t time.Time) int64 {
	sec := t.Unix()
	return sec - ((sec%60)+60)%60
}

// AppendBinary appends the canonical encoding of e to b.
func (e *Entry) AppendBinary(b []byte) ([]byte, error) {
	scopes := slices.Clone(e.Scopes)
	slices.Sort(scopes)
	sec := minuteOf(e.Time)
	if err := e.validate(sec, scopes); err != nil {
		return nil, err
	}
	b = append(b, Version)
	b = append(b, e.EventID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(sec))
	b = appendStr8(b, e.PartnerID)
	b = binary.BigEndian.AppendUint32(b, e.AgreementVersion)
	b = appendStr8(b, e.Endpoint)
	b = append(b, byte(len(scopes)))
	for _, s := range scopes {
		b = appendStr8(b, s)
	}
	b = append(b, byte(e.Decision))
	b = appendStr8(b, e.Reason)
	b = binary.BigEndian.AppendUint32(b, e.Items)
	b = append(b, e.Tag[:]...)
	return b, nil
}

// validate checks every rule of the format; sec and scopes are the
// already rounded time and sorted scopes.
func (e *Entry) validate(sec int64, scopes []string) error {
	switch {
	case e.EventID == EventID{}:
		return malformed("event id is zero")
	case sec < 0 || sec > maxTimeSec:
		return malformed("time %d is outside 1970..9999", sec)
	case !isToken(e.PartnerID, 1, 255, false):
		return malformed("partner id %q must be 1 to 255 printable ASCII bytes without spaces", e.PartnerID)
	case !isToken(e.Endpoint, 1, 255, true) || e.Endpoint[0] == ' ' || e.Endpoint[len(e.Endpoint)-1] == ' ':
		return malformed("endpoint %q must be 1 to 255 printable ASCII bytes, not starting or ending with a space", e.Endpoint)
	case len(scopes) > maxScopes:
		return malformed("%d scopes; at most %d", len(scopes), maxScopes)
	case e.Decision != Granted && e.Decision != Denied:
		return malformed("decision %d is neither granted (1) nor denied (2)", uint8(e.Decision))
	case !isReason(e.Reason):
		return malformed("reason %q must be at most %d bytes of a-z, 0-9 and _", e.Reason, maxReason)
	case e.Decision == Denied && e.Reason == "":
		return malformed("a denied entry needs a reason")
	case e.Tag == Tag{}:
		return malformed("member tag is zero")
	}
	return validScopes(scopes)
}

// validScopes checks sorted scopes: each a token, none repeated.
func validScopes(scopes []string) error {
	for i, s := range scopes {
		if !isToken(s, 1, maxScope, false) {
			return malformed("scope %q must be 1 to %d printable ASCII bytes without spaces", s, maxScope)
		}
		if i > 0 && scopes[i-1] == s {
			return malformed("scope %q is listed twice", s)
		}
	}
	return nil
}

// UnmarshalBinary decodes a canonical entry. Anything else, including
// trailing bytes, unsorted scopes, an unknown version or a time that is not
// a whole minute, is an error wrapping ErrMalformed.
func (e *Entry) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.u8(); d.err == nil && v != Version {
		return malformed("version %d, want %d", v, Version)
	}
	var out Entry
	copy(out.EventID[:], d.n(16))
	sec := d.u64()
	out.PartnerID = d.str8()
	out.AgreementVersion = d.u32()
	out.Endpoint = d.str8()
	out.Scopes = d.scopes()
	out.Decision = Decision(d.u8())
	out.Reason = d.str8()
	out.Items = d.u32()
	copy(out.Tag[:], d.n(32))
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return malformed("%d trailing bytes", len(d.b))
	}
	if sec > maxTimeSec || sec%60 != 0 {
		return malformed("time %d is not a whole minute in 1970..9999", sec)
	}
	if !slices.IsSorted(out.Scopes) {
		return malformed("scopes are not sorted")
	}
	if err := out.validate(int64(sec), out.Scopes); err != nil {
		return err
	}
	out.Time = time.Unix(int64(sec), 0).UTC()
	*e = out
	return nil
}

// DecodeEntry decodes a canonical entry (see Entry.UnmarshalBinary).
func DecodeEntry(b []byte) (*Entry, error) {
	var e Entry
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return &e, nil
}

// LeafHash returns the RFC 6962 leaf hash of an encoded entry,
// SHA-256(0x00 || entry): the hash the Merkle tree and receipts commit to.
func LeafHash(entry []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(entry)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// entryEventID returns the event id of an encoded entry of either kind
// (access or agreement) without decoding the rest; ok is false when b is
// too short or of another kind.
func entryEventID(b []byte) (id EventID, ok bool) {
	if len(b) < 17 || b[0] != Version && b[0] != AgreementKind {
		return id, false
	}
	copy(id[:], b[1:17])
	return id, true
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) n(k int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < k {
		d.err = malformed("truncated")
		return nil
	}
	v := d.b[:k]
	d.b = d.b[k:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.n(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.n(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.n(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) str8() string {
	return string(d.n(int(d.u8())))
}

// scopes reads a count byte and that many str8 scopes.
func (d *decoder) scopes() []string {
	var out []string
	for n := int(d.u8()); n > 0 && d.err == nil; n-- {
		out = append(out, d.str8())
	}
	return out
}

func appendStr8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("accesslog: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// isToken reports whether s has min..max bytes of printable ASCII (0x21 to
// 0x7e, and 0x20 too when space is true).
func isToken(s string, min, max int, space bool) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x7e || c < 0x20 || (c == ' ' && !space) {
			return false
		}
	}
	return true
}

func isReason(s string) bool {
	if len(s) > maxReason {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
