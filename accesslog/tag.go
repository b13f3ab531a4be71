package accesslog

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Domain-separation strings of the member tag scheme (docs/log-format.md).
const (
	memberKeyInfo = "glasshouse/member-key/v2"
	tagLabel      = "glasshouse/access/v1"
)

// MinMasterKeySize is the shortest master key MemberKey accepts.
const MinMasterKeySize = 32

// MemberKey is K_member, the key of one member's tags. Whoever holds it (the
// server, the member, or a court the member gives it to) can recompute the
// member's tags and so find the member's entries; nobody else can link an
// entry to a member. It is derived from the server's master key and the
// member's own secret (glasshouse.AccountStore.MemberSecret): deleting the
// account destroys the secret, and with it every way to link the member's
// entries to them.
type MemberKey [32]byte

// DeriveMemberKey returns K_member = HKDF-SHA256(ikm = master, salt = the
// member's secret, info = "glasshouse/member-key/v2").
func DeriveMemberKey(master, memberSecret []byte) (MemberKey, error) {
	var k MemberKey
	if len(master) < MinMasterKeySize {
		return k, fmt.Errorf("member key: master key has %d bytes; at least %d are needed", len(master), MinMasterKeySize)
	}
	if len(memberSecret) < MinMasterKeySize {
		return k, fmt.Errorf("member key: member secret has %d bytes; at least %d are needed", len(memberSecret), MinMasterKeySize)
	}
	b, err := hkdf.Key(sha256.New, master, memberSecret, memberKeyInfo, len(k))
	if err != nil {
		return k, fmt.Errorf("member key: %w", err)
	}
	copy(k[:], b)
	return k, nil
}

// Tag returns the member's tag for their counter-th access:
// HMAC-SHA256(K_member, "glasshouse/access/v1" || big-endian uint64 counter).
// Counters start at 1 and grow by one per access.
func (k MemberKey) Tag(counter uint64) Tag {
	m := hmac.New(sha256.New, k[:])
	m.Write(binary.BigEndian.AppendUint64([]byte(tagLabel), counter))
	var t Tag
	m.Sum(t[:0])
	return t
}

// Sighting is one of a member's counters found in the log.
type Sighting struct {
	Counter uint64 `json:"counter"`
	Index   uint64 `json:"index"` // the entry's log index
}

// Trail is what a member's tags reveal about the log: the entries that are
// theirs, and the counters up to the expected count that are missing.
type Trail struct {
	Found   []Sighting // in counter order
	Missing []uint64   // counters 1..n with no entry: a gap the operator must explain
}

// FindTrail recomputes the member's tags for counters 1..n, and past n for
// as long as they keep being found (an operator reporting too small an n is
// caught too), and looks each up with index, which maps a tag to the log
// index of the entry carrying it (ok false when no entry does).
func (k MemberKey) FindTrail(n uint64, index func(Tag) (uint64, bool)) Trail {
	var tr Trail
	for c := uint64(1); ; c++ {
		i, ok := index(k.Tag(c))
		switch {
		case ok:
			tr.Found = append(tr.Found, Sighting{Counter: c, Index: i})
		case c <= n:
			tr.Missing = append(tr.Missing, c)
		default:
			return tr
		}
	}
}
