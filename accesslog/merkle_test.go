package accesslog_test

import (
	"crypto/sha256"
	"encoding/base64"
)

// merkleRoot is RFC 6962 §2.1's MTH written out plainly, for tests.
func merkleRoot(leaves [][32]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0][:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(merkleRoot(leaves[:k]))
	h.Write(merkleRoot(leaves[k:]))
	return h.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
