package accesslog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse/internal/atomicfile"
	"golang.org/x/mod/sumdb/note"
)

// The files of the log key in a data folder, where serve keeps them
// unless told otherwise.
const (
	PrivateKeyFile  = "log-key.private" // the note signer key, mode 0600
	VerifierKeyFile = "log-key.pub"     // the note verifier key, public
)

// Origin returns the log's origin line (and key name) for a public host:
// "<host>/log", as C2SP tlog-checkpoint asks.
func Origin(publicHost string) string { return publicHost + "/log" }

// Key is the log's signing key: it signs checkpoints and receipts.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the public key in note form, "<name>+<hash>+<key>":
	// printed at start, written to the data folder and served at /log/key.
	VerifierKey string
}

// NewKey returns a fresh Ed25519 key named origin, reading randomness from
// r (crypto/rand.Reader when nil).
func NewKey(origin string, r io.Reader) (skey string, k *Key, err error) {
	if r == nil {
		r = rand.Reader
	}
	skey, _, err = note.GenerateKey(r, origin)
	if err != nil {
		return "", nil, fmt.Errorf("log key: %w", err)
	}
	k, err = ParseKey(skey)
	return skey, k, err
}

// ParseKey parses a note signer key ("PRIVATE+KEY+<name>+<hash>+<key>").
func ParseKey(skey string) (*Key, error) {
	s, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	// PRIVATE+KEY+name+hash+base64(alg || seed): derive the public key.
	// (base64 may hold '+' too, so cut the four fields off the front).
	rest := strings.TrimSpace(skey)
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) != 33 {
		return nil, errors.New("log key: not an Ed25519 note key")
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), ed25519Public(raw[1:]))
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return &Key{Signer: s, Verifier: v, VerifierKey: vkey}, nil
}

// LoadOrCreateKey reads the log key from the file at path, creating a new
// one named origin when the file does not exist. A key with another name
// is an error: the origin is the log's identity, and changing the public
// host means a new log (move the old key and log folder away to start
// one).
func LoadOrCreateKey(path, origin string) (*Key, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		skey, k, err := NewKey(origin, nil)
		if err != nil {
			return nil, err
		}
		// Of two processes starting at once, one creates the key and
		// the other reads it: never two keys for one log.
		if err := atomicfile.Create(path, []byte(skey+"\n"), 0o600); errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKey(path, origin)
		} else if err != nil {
			return nil, fmt.Errorf("log key: %w", err)
		}
		return k, nil
	case err != nil:
		return nil, fmt.Errorf("log key: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.Signer.Name() != origin {
		return nil, fmt.Errorf("log key: %s is for origin %q, not %q; the origin is the log's identity (move the log key and log folder away to start a new log)", path, k.Signer.Name(), origin)
	}
	return k, nil
}

// WriteVerifierKey (re)writes k's verifier key to dir/log-key.pub, for the
// operator to publish, unless the file already holds it.
func WriteVerifierKey(dir string, k *Key) error {
	pub := filepath.Join(dir, VerifierKeyFile)
	if old, err := os.ReadFile(pub); err == nil && bytes.Equal(old, []byte(k.VerifierKey+"\n")) {
		return nil
	}
	if err := atomicfile.Write(pub, []byte(k.VerifierKey+"\n"), 0o644); err != nil {
		return fmt.Errorf("log verifier key: %w", err)
	}
	return nil
}

// NewVerifier parses a verifier key in note form, checking it is Ed25519.
func NewVerifier(vkey string) (note.Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log verifier key %q: %w", vkey, err)
	}
	return v, nil
}

// keyHashHex formats a note key hash as 8 hex digits.
func keyHashHex(h uint32) string { return fmt.Sprintf("%08x", h) }

func parseKeyHash(s string) (uint32, error) {
	if len(s) != 8 || !isLowerHex(s) {
		return 0, fmt.Errorf("key hash %q: want 8 lowercase hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err
}

func ed25519Public(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}
