package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// NewClientCredentials returns a new partner client id (16 random bytes) and
// client secret (32 random bytes), both unpadded base64url. Show the secret
// to the operator once and store only HashSecret(secret). A client id never
// starts with "-", so that a command line cannot take it for a flag.
func NewClientCredentials() (clientID, secret string) {
	for clientID = randomString(16); strings.HasPrefix(clientID, "-"); clientID = randomString(16) {
	}
	return clientID, randomString(32)
}

// HashSecret returns the SHA-256 of a client secret: what
// PartnerStore.CreatePartner stores. A plain hash is enough because secrets
// are 256-bit random values, not passwords.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// randomString returns n random bytes in unpadded base64url.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash is the SHA-256 under which codes, refresh tokens and session tokens
// are looked up.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
