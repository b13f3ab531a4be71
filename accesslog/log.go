package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// TileReader reads C2SP tlog-tiles resources. For a partial resource
// (p > 0) it falls back to the full one when the partial one is gone, and
// returns an error wrapping fs.ErrNotExist when neither exists. Log reads
// them from disk; the verifier reads them over HTTP.
type TileReader interface {
	// ReadTile returns the hash tile at level and index, p hashes wide
	// (0 for a full tile of 256).
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	// ReadEntryBundle returns the entry bundle at index, p entries long
	// (0 for a full bundle of 256).
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// Log reads a Tessera POSIX log's files under a directory: the published
// checkpoint, tiles and entry bundles. It needs no appender, so every node
// that sees the directory can serve the log and build proofs. It is safe
// for concurrent use.
type Log struct {
	dir      string
	verifier note.Verifier
}

// OpenLog returns a reader for the log in dir whose checkpoints v verifies.
func OpenLog(dir string, v note.Verifier) *Log { return &Log{dir: dir, verifier: v} }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Checkpoint returns the latest published checkpoint, its signature
// checked. It wraps fs.ErrNotExist before the first checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	raw, err := os.ReadFile(filepath.Join(l.dir, layout.CheckpointPath))
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return OpenCheckpoint(raw, l.verifier)
}

// ReadTile implements TileReader.
func (l *Log) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return l.readPartialOrFull(p, func(p uint8) string { return layout.TilePath(level, index, p) }, 32)
}

// ReadEntryBundle implements TileReader.
func (l *Log) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return l.readPartialOrFull(p, func(p uint8) string { return layout.EntriesPath(index, p) }, 0)
}

// readPartialOrFull reads the partial resource, or the full one when the
// partial was garbage-collected, cut to p hashes (hashSize > 0) or left
// whole for bundles (callers take the first p entries).
func (l *Log) readPartialOrFull(p uint8, path func(uint8) string, hashSize int) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, path(p)))
	if p > 0 && errors.Is(err, fs.ErrNotExist) {
		if b, err = os.ReadFile(filepath.Join(l.dir, path(0))); err == nil && hashSize > 0 && len(b) >= int(p)*hashSize {
			b = b[:int(p)*hashSize]
		}
	}
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return b, nil
}

// Entry returns the encoded entry at index in a tree of the given size.
func (l *Log) Entry(ctx context.Context, index, size uint64) ([]byte, error) {
	return ReadEntry(ctx, l, index, size)
}

// ReadEntry returns the encoded entry at index of a tree of the given size,
// read from its entry bundle.
func ReadEntry(ctx context.Context, tr TileReader, index, size uint64) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("entry %d: beyond tree size %d", index, size)
	}
	bi := index / layout.EntryBundleWidth
	raw, err := tr.ReadEntryBundle(ctx, bi, layout.PartialTileSize(0, bi, size))
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", index, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("entry %d: bundle %d: %w", index, bi, err)
	}
	k := index % layout.EntryBundleWidth
	if k >= uint64(len(b.Entries)) {
		return nil, fmt.Errorf("entry %d: bundle %d has only %d entries", index, bi, len(b.Entries))
	}
	return b.Entries[k], nil
}

// InclusionProof returns the RFC 6962 inclusion proof (audit path) of the
// entry at index in the tree of the given size, built from tiles. Check it
// against a checkpoint of that size with VerifyInclusion.
func InclusionProof(ctx context.Context, tr TileReader, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("inclusion proof: index %d beyond tree size %d", index, size)
	}
	pb, err := client.NewProofBuilder(ctx, size, tr.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between trees of
// sizes older and newer (older <= newer), built from the tiles of the newer.
func ConsistencyProof(ctx context.Context, tr TileReader, older, newer uint64) ([][]byte, error) {
	if older > newer {
		return nil, fmt.Errorf("consistency proof: size %d is larger than %d", older, newer)
	}
	pb, err := client.NewProofBuilder(ctx, newer, tr.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	p, err := pb.ConsistencyProof(ctx, older, newer)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return p, nil
}

// VerifyInclusion checks an inclusion proof of the entry with leafHash at
// index against a checkpoint's size and root hash.
func VerifyInclusion(index, size uint64, leafHash [32]byte, p [][]byte, root [32]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], p, root[:]); err != nil {
		return fmt.Errorf("inclusion of entry %d in tree %d: %w", index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size newer with root newRoot
// extends the tree of size older with root oldRoot.
func VerifyConsistency(older, newer uint64, oldRoot, newRoot [32]byte, p [][]byte) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older, newer, p, oldRoot[:], newRoot[:]); err != nil {
		return fmt.Errorf("consistency of tree %d with tree %d: %w", older, newer, err)
	}
	return nil
}
