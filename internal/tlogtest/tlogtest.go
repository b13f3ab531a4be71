package tlogtest

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is an opened checkpoint: the log's origin, and the tree it
// commits to (N entries, root Hash).
type Checkpoint struct {
	Origin string
	tlog.Tree
}

// Open verifies signed, a checkpoint as a signed note, with verifierKey (a
// note verifier key; white space around it is ignored) and parses it. The
// test fails unless the signature verifies, the origin is the key's name,
// and the body holds a size and a root hash of the right length.
func Open(tb testing.TB, signed []byte, verifierKey string) Checkpoint {
	tb.Helper()
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		tb.Fatalf("verifier key %q: %v", verifierKey, err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		tb.Fatalf("checkpoint signature: %v\n%s", err, signed)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		tb.Fatalf("checkpoint body %q; want the origin %q, a size and a hash", n.Text, v.Name())
	}
	cp := Checkpoint{Origin: lines[0]}
	if cp.N, err = strconv.ParseInt(lines[1], 10, 64); err != nil || cp.N < 0 {
		tb.Fatalf("checkpoint size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != len(cp.Hash) {
		tb.Fatalf("checkpoint hash %q", lines[2])
	}
	copy(cp.Hash[:], h)
	return cp
}
