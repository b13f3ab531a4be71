package graph

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/pairwise"
)

// secretName is the store secret from which the Graph API derives its keys.
// It lives in the database, so that every node of a cluster agrees on the
// ids and cursors it hands out.
const secretName = "graph-ids"

// ids makes the conversation and message ids and the page cursors that
// partners see. Members are known by the verifier's pairwise ids.
//
// Conversation and message ids are pairwise.ID under their own keys: per
// partner, stable, and not reversible. The Graph API maps them back by
// trying the few candidates a request may name (the conversations the
// member picked).
//
// A cursor is one AES-256 block: a position (a member id or a message seq)
// and the first 8 bytes of an HMAC that binds it to the partner, the member
// and the listing. Decrypting a cursor that was not made for them yields
// a check that does not match (a 2^-64 chance otherwise), so a cursor
// neither reveals an internal id nor works anywhere else.
type ids struct {
	conversationKey []byte
	messageKey      []byte
	cursorMACKey    []byte
	cursorBlock     cipher.Block
}

// loadIDs derives the keys from the store secret, creating it on first use.
func loadIDs(ctx context.Context, store Store) (*ids, error) {
	secret, err := store.Secret(ctx, secretName, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	derive := func(label string) []byte {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("glasshouse/graph/" + label))
		return mac.Sum(nil)
	}
	block, err := aes.NewCipher(derive("cursor-encryption"))
	if err != nil {
		return nil, fmt.Errorf("cursor cipher: %w", err)
	}
	return &ids{
		conversationKey: derive("conversation"),
		messageKey:      derive("message"),
		cursorMACKey:    derive("cursor-mac"),
		cursorBlock:     block,
	}, nil
}

// conversation returns the id under which the partner with clientID knows
// conversation id.
func (x *ids) conversation(clientID string, id int64) string {
	return pairwise.ID(x.conversationKey, clientID, id)
}

// message returns the id under which the partner with clientID knows
// message id.
func (x *ids) message(clientID string, id int64) string {
	return pairwise.ID(x.messageKey, clientID, id)
}

// cursor seals position for the next page of listing, for memberID at the
// partner with clientID.
func (x *ids) cursor(clientID string, memberID int64, listing string, position int64) string {
	var b [aes.BlockSize]byte
	binary.BigEndian.PutUint64(b[:8], uint64(position))
	copy(b[8:], x.cursorCheck(clientID, memberID, listing))
	x.cursorBlock.Encrypt(b[:], b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// position opens a cursor made by cursor with the same clientID, memberID
// and listing. EINVALID for any other string.
func (x *ids) position(clientID string, memberID int64, listing, cursor string) (int64, error) {
	// Strict: the last character's unused bits must be zero, or 16
	// spellings would open as one cursor.
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(b) != aes.BlockSize {
		return 0, errBadCursor
	}
	x.cursorBlock.Decrypt(b, b)
	if !hmac.Equal(b[8:], x.cursorCheck(clientID, memberID, listing)) {
		return 0, errBadCursor
	}
	return int64(binary.BigEndian.Uint64(b[:8])), nil
}

var errBadCursor = glasshouse.Errorf(glasshouse.EINVALID, "The cursor is not one this API gave for this listing.")

// cursorCheck is the 8-byte MAC of a cursor's context.
func (x *ids) cursorCheck(clientID string, memberID int64, listing string) []byte {
	mac := hmac.New(sha256.New, x.cursorMACKey)
	for _, s := range []string{clientID, listing} {
		binary.Write(mac, binary.BigEndian, uint32(len(s)))
		mac.Write([]byte(s))
	}
	binary.Write(mac, binary.BigEndian, memberID)
	return mac.Sum(nil)[:8]
}
