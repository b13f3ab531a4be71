package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes (OWASP Password Storage Cheat Sheet, argon2id:
// m=19456 KiB, t=2, p=1).
const (
	Memory  = 19456 // KiB
	Time    = 2
	Threads = 1
	SaltLen = 16
	KeyLen  = 32
)

// Bounds on the parameters Verify accepts, so that a corrupt or hostile
// stored hash cannot make one verification take gigabytes or minutes.
const (
	maxMemory  = 256 << 10 // KiB
	maxTime    = 16
	maxThreads = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// ErrMalformed is returned by Verify for a string that is not an argon2id
// PHC hash within the accepted bounds.
var ErrMalformed = errors.New("password: malformed argon2id hash")

var b64 = base64.RawStdEncoding

// sem bounds the number of hashes computed at once (see the package doc).
var sem = make(chan struct{}, runtime.GOMAXPROCS(0))

// Hash returns the PHC-encoded argon2id hash of pw under a new random salt.
func Hash(pw string) string {
	salt := make([]byte, SaltLen)
	rand.Read(salt) // never fails (crypto/rand)
	key := derive(pw, salt, Time, Memory, Threads, KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, Memory, Time, Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether pw matches the PHC-encoded hash. The comparison
// takes the same time wherever the keys differ. It returns ErrMalformed
// (and false) when encoded is not a well-formed argon2id hash.
func Verify(pw, encoded string) (bool, error) {
	h, err := decode(encoded)
	if err != nil {
		return false, err
	}
	key := derive(pw, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

func derive(pw string, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	sem <- struct{}{}
	defer func() { <-sem }()
	return argon2.IDKey([]byte(pw), salt, time, memory, threads, keyLen)
}

type hash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// decode parses "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func decode(s string) (*hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, ErrMalformed
	}
	var version int
	if n, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || n != 1 || version != argon2.Version ||
		parts[2] != fmt.Sprintf("v=%d", version) {
		return nil, fmt.Errorf("%w: unsupported version %q", ErrMalformed, parts[2])
	}
	var h hash
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", h.memory, h.time, threads) {
		return nil, fmt.Errorf("%w: bad parameters %q", ErrMalformed, parts[3])
	}
	if h.time < 1 || h.time > maxTime || threads < 1 || threads > maxThreads ||
		h.memory < 8*threads || h.memory > maxMemory {
		return nil, fmt.Errorf("%w: parameters out of bounds %q", ErrMalformed, parts[3])
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: bad salt", ErrMalformed)
	}
	if h.key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return nil, fmt.Errorf("%w: bad key", ErrMalformed)
	}
	return &h, nil
}
