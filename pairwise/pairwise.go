package pairwise

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// ID returns the id under which the partner with clientID knows memberID:
// 22 base64url characters (128 bits of the HMAC), safe in URLs and without
// ':' (which sealed OAuth tokens use as a separator).
func ID(key []byte, clientID string, memberID int64) string {
	mac := hmac.New(sha256.New, key)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(memberID))
	// The client id is length-prefixed so that no two (client, member)
	// pairs share an input.
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(clientID)))
	mac.Write(l[:])
	mac.Write([]byte(clientID))
	mac.Write(n[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}
