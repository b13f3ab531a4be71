package accesslog

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed C2SP tlog-checkpoint: the log's size and root hash
// under its origin, signed with the log key.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   [32]byte
	Raw    []byte // the signed note as served
}

// OpenCheckpoint verifies raw's signature with v and parses its body:
//
//	<origin>\n<decimal size>\n<base64 root hash>\n[extension lines]
//
// The origin must be v's name (C2SP tlog-checkpoint, "Note text").
func OpenCheckpoint(raw []byte, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: signature by %s: %w", v.Name(), err)
	}
	lines := strings.SplitAfter(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("checkpoint: want origin, size and hash lines")
	}
	cp := &Checkpoint{Origin: strings.TrimSuffix(lines[0], "\n"), Raw: bytes.Clone(raw)}
	if cp.Origin != v.Name() {
		return nil, fmt.Errorf("checkpoint: origin %q is not the key's name %q", cp.Origin, v.Name())
	}
	size := strings.TrimSuffix(lines[1], "\n")
	if cp.Size, err = strconv.ParseUint(size, 10, 64); err != nil || strconv.FormatUint(cp.Size, 10) != size {
		return nil, fmt.Errorf("checkpoint: size %q is not a canonical decimal", size)
	}
	h, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(h) != len(cp.Hash) {
		return nil, fmt.Errorf("checkpoint: root hash %q is not 32 bytes of base64", strings.TrimSuffix(lines[2], "\n"))
	}
	copy(cp.Hash[:], h)
	return cp, nil
}
