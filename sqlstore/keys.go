package sqlstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/glasshouse/glasshouse"
)

// Message bodies are encrypted at rest under per-member keys, so that
// deleting a member's secret (glasshouse.AccountStore) leaves their
// messages unreadable:
//
//   - Each member has a random secret of glasshouse.MemberSecretSize bytes,
//     stored in member_keys wrapped with AES-256-GCM under the key-encryption
//     key (KEK), with the member id as additional data, so a wrapped secret
//     moved to another member's row does not unwrap.
//   - A message's body is sealed with AES-256-GCM under a key derived with
//     HKDF-SHA256 from its sender's secret (info messageKeyInfo), with a
//     random nonce and the message's conversation id and seq as additional
//     data, so a body moved to another row does not open.
//   - Both formats start with a version byte (sealVersion) for the day the
//     algorithm changes. A message stored before bodies were sealed has a
//     NULL body and its text in plain; it reads as it is until its sender is
//     deleted, when the text is blanked.
//
// The KEK is Config.KeyEncryptionKey, or else a random secret the store
// keeps in its own secrets table (kekSecret): that one protects erasure
// only, since a copy of the database holds it together with the secrets it
// wraps. Either way the store records an HMAC of the KEK (kekCheckSecret)
// and refuses another KEK than the one that wrapped the secrets.
//
// Unwrapped secrets, with their derived message cipher, are cached in
// memory (keyring), and only once committed: a write may yet roll back,
// and SQLite hands the id of a member whose creation rolled back to the
// next one. A committed secret never changes, and a member's id is never
// reused (a deleted member's row stays), so a cached secret is the
// member's own for good. The cache never decides whether a member exists:
// every read checks the sender's row in its own snapshot, and a send
// checks that its sender is in the conversation.

const (
	sealVersion    byte = 1                         // format of wrapped secrets and sealed bodies
	messageKeyInfo      = "glasshouse/message/v1"   // HKDF info of a member's message key
	kekCheckLabel       = "glasshouse/kek-check/v1" // what the KEK's check value is the HMAC of
	kekSecret           = "storage-kek"             // secrets row: the KEK when none is configured
	kekCheckSecret      = "storage-kek-check"       // secrets row: the check value of the KEK in use
	kekSize             = 32                        // AES-256
	maxCachedKeys       = 10000                     // past it the keyring starts over
)

// ErrKEKMismatch is returned when the configured key-encryption key is not
// the one that wrapped the database's member secrets: with it, no message
// would decrypt.
var ErrKEKMismatch = errors.New("the key-encryption key is not the one this database's member secrets were wrapped with")

// errNoKey is a live member without a secret yet: one from before member
// secrets existed.
var errNoKey = errors.New("member has no secret yet")

// kek wraps and unwraps member secrets.
type kek struct{ aead cipher.AEAD }

func newKEK(key []byte) (*kek, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return &kek{aead: aead}, nil
}

// newAEAD returns AES-256-GCM under key, with random nonces that Seal
// prepends to its output.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != kekSize {
		return nil, fmt.Errorf("key of %d bytes, want %d", len(key), kekSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// randomBytes returns n random bytes. crypto/rand.Read never fails: the
// program crashes instead.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// kekCheck is the value recorded for the KEK in use.
func kekCheck(key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kekCheckLabel))
	return mac.Sum(nil)
}

// memberAD is the additional data of a member's wrapped secret.
func memberAD(memberID int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{sealVersion}, uint64(memberID))
}

func (k *kek) wrap(memberID int64, secret []byte) []byte {
	return k.aead.Seal([]byte{sealVersion}, nil, secret, memberAD(memberID))
}

func (k *kek) unwrap(memberID int64, wrapped []byte) ([]byte, error) {
	if len(wrapped) == 0 || wrapped[0] != sealVersion {
		return nil, fmt.Errorf("member %d: unknown secret format", memberID)
	}
	secret, err := k.aead.Open(nil, nil, wrapped[1:], memberAD(memberID))
	if err != nil {
		return nil, fmt.Errorf("member %d: unwrap secret: %w", memberID, err)
	} else if len(secret) != glasshouse.MemberSecretSize {
		return nil, fmt.Errorf("member %d: secret of %d bytes", memberID, len(secret))
	}
	return secret, nil
}

// memberKey is a member's unwrapped secret and the message cipher derived
// from it. It is shared and must not be modified.
type memberKey struct {
	wrapped []byte // the member_keys row it came from
	secret  []byte
	message cipher.AEAD
}

func newMemberKey(wrapped, secret []byte) (*memberKey, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, messageKeyInfo, kekSize)
	if err != nil {
		return nil, fmt.Errorf("derive message key: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	return &memberKey{wrapped: wrapped, secret: secret, message: aead}, nil
}

// messageAD is the additional data of a message body: the row it belongs
// to.
func messageAD(conversationID, seq int64) []byte {
	ad := make([]byte, 1, 17)
	ad[0] = sealVersion
	ad = binary.BigEndian.AppendUint64(ad, uint64(conversationID))
	return binary.BigEndian.AppendUint64(ad, uint64(seq))
}

// seal returns the body of message seq of a conversation.
func (k *memberKey) seal(conversationID, seq int64, text string) []byte {
	dst := make([]byte, 1, 1+len(text)+k.message.Overhead())
	dst[0] = sealVersion
	return k.message.Seal(dst, nil, []byte(text), messageAD(conversationID, seq))
}

// open returns the text of a body that seal returned.
func (k *memberKey) open(conversationID, seq int64, body []byte) (string, error) {
	if len(body) == 0 || body[0] != sealVersion {
		return "", errors.New("unknown body format")
	}
	text, err := k.message.Open(nil, nil, body[1:], messageAD(conversationID, seq))
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// keyring holds the resolved KEK and caches unwrapped member secrets.
type keyring struct {
	kek atomic.Pointer[kek] // nil until read from committed data

	mu        sync.Mutex
	members   map[int64]*memberKey
	forgotten map[int64]bool // deleted members, never cached again
}

func (r *keyring) cached(memberID int64) *memberKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[memberID]
}

func (r *keyring) remember(memberID int64, k *memberKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.forgotten[memberID] {
		return
	}
	if r.members == nil || len(r.members) >= maxCachedKeys {
		r.members = make(map[int64]*memberKey)
	}
	r.members[memberID] = k
}

// forget drops a deleted member's secret, and keeps it from being cached
// again by a read that began before the deletion.
func (r *keyring) forget(memberID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, memberID)
	if r.forgotten == nil || len(r.forgotten) >= maxCachedKeys {
		r.forgotten = make(map[int64]bool)
	}
	r.forgotten[memberID] = true
}

// loadKEK resolves the KEK from committed data, creating what a new
// database lacks, and caches it. Operations that will need the KEK call it
// before they are queued, so that the writer finds it cached.
func (s *Store) loadKEK(ctx context.Context) error {
	if s.keys.kek.Load() != nil {
		return nil
	}
	var k *kek
	resolve := func(t *tx) (err error) {
		k, err = t.resolveKEK()
		return err
	}
	err := s.view(ctx, resolve)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.write(ctx, resolve)
	}
	if err != nil {
		return fmt.Errorf("key-encryption key: %w", err)
	}
	s.keys.kek.CompareAndSwap(nil, k)
	return nil
}

// kek returns the KEK: the cached one, or else the one t's snapshot holds,
// which a write creates if there is none. Only a read caches it: a write
// may yet roll back.
func (t *tx) kek() (*kek, error) {
	if k := t.s.keys.kek.Load(); k != nil {
		return k, nil
	}
	k, err := t.resolveKEK()
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if t.batch == nil {
		t.s.keys.kek.CompareAndSwap(nil, k)
	}
	return k, nil
}

// resolveKEK returns the configured KEK, or the stored one, after checking
// it against the recorded check value. In a write, what is missing is
// created; in a read, it is sql.ErrNoRows.
func (t *tx) resolveKEK() (*kek, error) {
	key := t.s.cfg.KeyEncryptionKey
	if key == nil {
		var err error
		if key, err = t.secret(kekSecret, func() []byte { return randomBytes(kekSize) }); err != nil {
			return nil, err
		}
	}
	want := kekCheck(key)
	got, err := t.secret(kekCheckSecret, func() []byte { return want })
	if err != nil {
		return nil, err
	} else if !hmac.Equal(got, want) {
		return nil, ErrKEKMismatch
	}
	return newKEK(key)
}

// secret returns the named server secret; a write creates it from generate
// if it is absent, a read returns sql.ErrNoRows.
func (t *tx) secret(name string, generate func() []byte) ([]byte, error) {
	var value []byte
	err := t.queryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	if !errors.Is(err, sql.ErrNoRows) || t.batch == nil {
		return value, err
	}
	value = generate()
	if _, err := t.exec(`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)`, name, value, micros(t.s.now())); err != nil {
		return nil, err
	}
	return value, nil
}

// memberKey returns the secret of a member who is not deleted: ENOTFOUND
// if the member is absent or deleted. A member without a secret yet gets
// one if create is set (t must be a write), and is errNoKey otherwise.
func (t *tx) memberKey(memberID int64, create bool) (*memberKey, error) {
	var row memberKeyRow
	err := t.queryRow(memberKeyQuery, memberID).Scan(&row.deleted, &row.wrapped)
	if err == nil {
		row.found = true
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return t.memberKeyFrom(memberID, row, create)
}

// memberKeyQuery reads a member's memberKeyRow.
const memberKeyQuery = `SELECT m.deleted_at, k.wrapped FROM members m LEFT JOIN member_keys k ON k.member_id = m.id
	WHERE m.id = ?`

// memberKeyRow is what memberKey reads of a member.
type memberKeyRow struct {
	found   bool   // the member exists
	deleted int64  // deleted_at
	wrapped []byte // the wrapped secret, nil if none
}

// scan reads the row of memberKeyQuery.
func (row *memberKeyRow) scan(r interface{ Scan(...any) error }) error {
	row.found = true
	return r.Scan(&row.deleted, &row.wrapped)
}

// memberKeyFrom is memberKey from the member's row, read by the caller.
func (t *tx) memberKeyFrom(memberID int64, row memberKeyRow, create bool) (*memberKey, error) {
	wrapped := row.wrapped
	switch {
	case !row.found || row.deleted != 0:
		t.forgetDeleted(memberID)
		return nil, errNoMember()
	case wrapped == nil && create:
		return t.newMemberKey(memberID)
	case wrapped == nil:
		return nil, errNoKey
	}
	if k := t.s.keys.cached(memberID); k != nil && bytes.Equal(k.wrapped, wrapped) {
		return k, nil
	}
	kek, err := t.kek()
	if err != nil {
		return nil, err
	}
	secret, err := kek.unwrap(memberID, wrapped)
	if err != nil {
		return nil, err
	}
	k, err := newMemberKey(wrapped, secret)
	if err != nil {
		return nil, err
	}
	if t.batch == nil { // a read: committed
		t.s.keys.remember(memberID, k)
	}
	return k, nil
}

// forgetDeleted drops the secret of a member that t found deleted, as
// DeleteMember did on the node that deleted it. Only a read does: what a
// write sees may yet roll back.
func (t *tx) forgetDeleted(memberID int64) {
	if t.batch == nil {
		t.s.keys.forget(memberID)
	}
}

// senderKey returns the secret of a sender whom the caller found in the
// conversation, so not deleted: the cached one, or else memberKeyFrom's
// with the sender's row that the caller read.
func (t *tx) senderKey(memberID int64, row memberKeyRow) (*memberKey, error) {
	if k := t.s.keys.cached(memberID); k != nil {
		return k, nil
	}
	return t.memberKeyFrom(memberID, row, true)
}

// newMemberKey gives a member a new random secret. The caller caches it
// once committed, if it likes.
func (t *tx) newMemberKey(memberID int64) (*memberKey, error) {
	kek, err := t.kek()
	if err != nil {
		return nil, err
	}
	secret := randomBytes(glasshouse.MemberSecretSize)
	wrapped := kek.wrap(memberID, secret)
	if _, err := t.exec(`INSERT INTO member_keys (member_id, wrapped, created_at) VALUES (?, ?, ?)`,
		memberID, wrapped, micros(t.s.now())); err != nil {
		return nil, fmt.Errorf("member %d: store secret: %w", memberID, err)
	}
	return newMemberKey(wrapped, secret)
}

// unseal sets the text of m, read with its body and with SenderDeleted
// from the row of its sender. A deleted sender's message has no text and
// no sender handle; a message without a body kept its text in plain.
func (t *tx) unseal(m *glasshouse.Message, body []byte) error {
	if m.SenderDeleted {
		m.Text, m.SenderHandle = "", ""
		t.forgetDeleted(m.SenderID)
		return nil
	} else if body == nil {
		return nil
	}
	// The cache is tried first: m's sender was not deleted in the
	// snapshot m was read in, so the secret was theirs then.
	if k := t.s.keys.cached(m.SenderID); k != nil {
		if text, err := k.open(m.ConversationID, m.Seq, body); err == nil {
			m.Text = text
			return nil
		}
	}
	k, err := t.memberKey(m.SenderID, false)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		// Deleted since m was read (a read outside a transaction).
		m.Text, m.SenderHandle, m.SenderDeleted = "", "", true
		return nil
	} else if err != nil {
		return fmt.Errorf("message %d: %w", m.ID, err)
	}
	if m.Text, err = k.open(m.ConversationID, m.Seq, body); err != nil {
		return fmt.Errorf("message %d: open body: %w", m.ID, err)
	}
	return nil
}
