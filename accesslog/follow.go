package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

// A Follower follows a log incrementally, as a Certificate Transparency
// monitor does: from a verified checkpoint it keeps (FollowState) it
// advances to each new checkpoint the server publishes, fetching only what
// is new, and hands every new entry, verified, to its callbacks.
//
// One step (Advance) goes like this:
//
//  1. Fetch the checkpoint and open it: the log's signature under the
//     trusted key and, with a witness policy, a quorum of cosignatures.
//  2. Compare it with the verified one: a smaller size (a truncation) or
//     another root at the same size (a fork) is an error wrapping
//     ErrTampered, as is another origin.
//  3. Fetch the level-0 tiles of the new entries only, append their
//     hashes to the compact range kept of the verified tree (the right
//     border: at most 64 subtree roots) and compare the root so obtained
//     with the new checkpoint's. A match proves the new tree extends the
//     verified one, with no consistency proof needed. The higher tiles'
//     new hashes are compared with the subtrees the range completed.
//  4. Fetch the new entries' bundles, check each entry hashes to its tile
//     hash, decode it strictly (DecodeAny) and hand it over: Entry, then
//     the follower's Compliance takes it in, then Finding for each granted
//     access outside the agreements logged before it.
//
// Entries are thus handed over only once the checkpoint holding them has
// verified, each exactly once within a process: a step that fails in 4
// (the network) leaves the follower where it stopped, and the next Advance
// delivers the rest before it looks at a new checkpoint. Across restarts
// delivery is at least once: State is the last checkpoint whose entries
// were all delivered, and a process that stops in the middle of 4 hands
// the rest of that step over again from its saved state.
//
// A Follower is not safe for concurrent use.
type Follower struct {
	cfg    FollowConfig
	remote *Remote
	v      note.Verifier
	key    string

	// The verified tree: its checkpoint and compact range.
	st  State
	rng *compact.Range
	// legacy is a saved state without a range (such as audit verify's):
	// the follower reads the log from the start and checks the root at
	// its size.
	legacy *State

	// Delivery: entries [0, next) were handed over; pending holds the
	// leaf hashes of [next, st.Size).
	next    uint64
	pending []byte

	comp       *Compliance
	agreements []FollowedAgreement
	done       FollowState // the last fully delivered state
}

// FollowConfig says which log a Follower follows and what it does with
// the entries.
type FollowConfig struct {
	// URL is the server's base URL; the log is under URL/log/.
	URL string
	// Key is the log's verifier key the follower trusts, in note form.
	// Empty means the saved state's, or on a first run the one the server
	// publishes at /log/key (trust on first use).
	Key string
	// Witnesses, if set, must cosign every checkpoint (WitnessPolicy.Open).
	Witnesses *WitnessPolicy
	Client    *http.Client
	// Workers is how many resources are fetched at once (default 8).
	Workers int
	// Now stamps the state (default time.Now).
	Now func() time.Time
	// Entry, if set, is called with every new entry in log order, after
	// its checkpoint verified and it matched its leaf hash, and before
	// the follower's Compliance takes it in: Compliance().Partners then
	// holds the agreement history logged before the entry.
	Entry func(index uint64, e AnyEntry)
	// Finding, if set, is called with every granted access that breaks a
	// rule of Compliance, right after its Entry call.
	Finding func(Finding)
}

// FollowState is what a Follower keeps between runs: the last checkpoint
// whose entries it has all handed over (the fields of State, so that an
// audit state file reads as one too), the compact range of that tree, and
// the agreement entries up to it, from which Compliance is rebuilt.
type FollowState struct {
	State
	// Range is the right border of the verified tree: the roots of the
	// perfect subtrees that make up entries [0, Size), largest (leftmost)
	// first, as compact.Range holds them.
	Range [][]byte `json:"range"`
	// Agreements are the agreement entries of [0, Size).
	Agreements []FollowedAgreement `json:"agreements"`
}

// FollowedAgreement is one agreement entry of the log: its index and its
// canonical encoding.
type FollowedAgreement struct {
	Index uint64 `json:"index"`
	Entry []byte `json:"entry"`
}

// FollowStep is what one Advance did.
type FollowStep struct {
	Checkpoint *Checkpoint // the latest verified checkpoint
	// Previous is the size of the tree verified before this step.
	Previous uint64
	// From and To bound the entries handed over in this step: [From, To).
	From, To uint64
	// Agreements counts the agreement entries among them.
	Agreements uint64
}

var rangeFactory = compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// NewFollower returns a follower of the log cfg.URL from st, the state a
// previous follower saved (nil: from the empty tree). A state without a
// range, such as audit verify's, is accepted: the log is then read from
// its first entry, and must hash to the state's root at its size.
func NewFollower(cfg FollowConfig, st *FollowState) (*Follower, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Follower{cfg: cfg, remote: NewRemote(cfg.URL, cfg.Client), comp: NewCompliance(), rng: rangeFactory.NewEmptyRange(0)}
	f.st.Hash = rfc6962.DefaultHasher.EmptyRoot()
	if st == nil {
		f.done = f.snapshot()
		return f, nil
	}
	f.key = st.Key
	if cfg.Key != "" {
		f.key = cfg.Key
	}
	switch {
	case st.Size > 0 && len(st.Range) == 0:
		legacy := st.State
		f.legacy = &legacy
		f.st.Key, f.st.Origin = st.Key, st.Origin
	default:
		rng, err := rangeFactory.NewRange(0, st.Size, slices.Clone(st.Range))
		if err != nil {
			return nil, fmt.Errorf("%w: the saved range does not fit size %d: %v", ErrState, st.Size, err)
		}
		if root := rangeRoot(rng); !bytes.Equal(root, st.Hash) {
			return nil, fmt.Errorf("%w: the saved range hashes to %x, not to the saved root %x", ErrState, root, st.Hash)
		}
		f.rng, f.st, f.next = rng, st.State, st.Size
		for _, a := range st.Agreements {
			var e AgreementEntry
			if err := e.UnmarshalBinary(a.Entry); err != nil || a.Index >= st.Size {
				return nil, fmt.Errorf("%w: saved agreement entry %d: %v", ErrState, a.Index, err)
			}
			f.comp.Agreement(a.Index, &e)
			f.agreements = append(f.agreements, FollowedAgreement{Index: a.Index, Entry: slices.Clone(a.Entry)})
		}
	}
	f.done = f.snapshot()
	return f, nil
}

// State returns the last state whose entries were all handed over: what
// to save and pass to NewFollower next time. Its slices are the caller's.
func (f *Follower) State() FollowState {
	s := f.done
	s.Range = slices.Clone(s.Range)
	s.Agreements = slices.Clone(s.Agreements)
	return s
}

// Size is how many entries have been handed over.
func (f *Follower) Size() uint64 { return f.next }

// Compliance is the agreement history of the log as followed so far, and
// the check of each access against it. Its Findings are handed to
// FollowConfig.Finding and then dropped.
func (f *Follower) Compliance() *Compliance { return f.comp }

func (f *Follower) snapshot() FollowState {
	return FollowState{State: f.st, Range: slices.Clone(f.rng.Hashes()), Agreements: slices.Clone(f.agreements)}
}

// Advance brings the follower to the latest checkpoint the server
// publishes, handing over each new entry (see Follower). An error wrapping
// ErrTampered means the log is not what it claimed (a fork, a truncation,
// a bad signature, a tile or entry that differs); the follower is then of
// no further use. Any other error (the network) leaves the follower where
// it was, or where it stopped handing over entries: call Advance again.
func (f *Follower) Advance(ctx context.Context) (*FollowStep, error) {
	if f.v == nil {
		if err := f.openKey(ctx); err != nil {
			return nil, err
		}
	}
	step := &FollowStep{From: f.next, Previous: f.st.Size}
	// Entries of a checkpoint verified earlier that were not all handed
	// over yet.
	if f.next < f.st.Size {
		if err := f.deliver(ctx, step); err != nil {
			return step, err
		}
	}
	raw, err := f.remote.ReadCheckpoint(ctx)
	if err != nil {
		return step, fmt.Errorf("follow: checkpoint: %w", err)
	}
	cp, err := f.cfg.Witnesses.Open(raw, f.v)
	if err != nil {
		if errors.Is(err, ErrTampered) {
			return step, fmt.Errorf("follow: %w", err)
		}
		return step, tampered("%v", err)
	}
	step.Checkpoint = cp
	step.Previous = f.st.Size
	if f.legacy != nil {
		if err := checkAgainst(cp, f.legacy); err != nil {
			return step, err
		}
	} else if f.st.Origin != "" {
		if err := checkAgainst(cp, &f.st); err != nil {
			return step, err
		}
	}
	if cp.Size > f.st.Size || (cp.Size == 0 && f.st.Origin == "") {
		if err := f.extend(ctx, cp); err != nil {
			return step, err
		}
		if err := f.deliver(ctx, step); err != nil {
			return step, err
		}
	}
	step.To = f.next
	return step, nil
}

// openKey settles the trusted key: the configured or saved one, which must
// be the one the server publishes, or that one on a first run.
func (f *Follower) openKey(ctx context.Context) error {
	served, err := f.remote.ReadVerifierKey(ctx)
	if err != nil {
		return fmt.Errorf("follow: key: %w", err)
	}
	if f.key == "" {
		f.key = served
	}
	if served != f.key {
		return &KeyChangedError{Served: served, Trusted: f.key, Saved: f.cfg.Key == ""}
	}
	v, err := NewVerifier(f.key)
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	f.v = v
	return nil
}

// checkAgainst compares checkpoint cp with the verified state prev: the
// same origin, not smaller, and the same root at the same size.
func checkAgainst(cp *Checkpoint, prev *State) error {
	seen := "verified earlier"
	if !prev.VerifiedAt.IsZero() {
		seen = "verified " + prev.VerifiedAt.Format(time.RFC3339)
	}
	switch {
	case prev.Origin != "" && prev.Origin != cp.Origin:
		return tampered("origin is %q, but the checkpoint %s was for %q", cp.Origin, seen, prev.Origin)
	case cp.Size < prev.Size:
		return tampered("log truncated: the checkpoint has %d entries, but the one %s had %d", cp.Size, seen, prev.Size)
	case cp.Size == prev.Size && !bytes.Equal(cp.Hash[:], prev.Hash):
		return tampered("fork: the checkpoint of size %d has root %x, but the one %s at the same size had root %x", cp.Size, cp.Hash, seen, prev.Hash)
	}
	return nil
}

// extend verifies that checkpoint cp extends the verified tree: it appends
// the new entries' hashes, read from the level-0 tiles, to a copy of the
// compact range, compares the root, and compares the higher tiles' new
// hashes with the subtrees completed. Only then does the follower take cp
// as its verified tree; the hashes wait in pending for deliver.
func (f *Follower) extend(ctx context.Context, cp *Checkpoint) error {
	old, size := f.st.Size, cp.Size
	rng, err := rangeFactory.NewRange(0, old, slices.Clone(f.rng.Hashes()))
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	upper := map[compact.NodeID][]byte{}
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 && id.Level%layout.TileHeight == 0 {
			upper[id] = h
		}
	}
	first, last := old/layout.TileWidth, (size+layout.TileWidth-1)/layout.TileWidth
	next, stop := fetchOrdered(ctx, first, last, f.cfg.Workers, func(ctx context.Context, ti uint64) ([]byte, error) {
		return f.remote.ReadTile(ctx, 0, ti, layout.PartialTileSize(0, ti, size))
	})
	defer stop()
	pending := make([]byte, 0, 32*(size-old))
	for ti := first; ti < last; ti++ {
		t, err := next(ti)
		if errors.Is(err, fs.ErrNotExist) {
			return tampered("log truncated: the checkpoint has %d entries, but %v", size, err)
		} else if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		want := uint64(layout.TileWidth)
		if p := layout.PartialTileSize(0, ti, size); p > 0 {
			want = uint64(p)
		}
		if uint64(len(t)) != 32*want {
			return tampered("tile 0/%d has %d bytes, want %d hashes", ti, len(t), want)
		}
		for k := max(old, ti*layout.TileWidth) - ti*layout.TileWidth; k < want; k++ {
			h := t[32*k : 32*k+32]
			if err := rng.Append(h, visit); err != nil {
				return fmt.Errorf("follow: %w", err)
			}
			pending = append(pending, h...)
			if l := f.legacy; l != nil && rng.End() == l.Size {
				if root := rangeRoot(rng); !bytes.Equal(root, l.Hash) {
					return tampered("fork: the first %d entries hash to root %x, but the checkpoint verified %s at that size had root %x",
						l.Size, root, l.VerifiedAt.Format(time.RFC3339), l.Hash)
				}
			}
		}
	}
	if root := rangeRoot(rng); !bytes.Equal(root, cp.Hash[:]) {
		if old > 0 {
			return tampered("fork: the checkpoint of size %d has root %x, but the %d entries verified before (root %x) extended by the served tiles give %x",
				size, cp.Hash, old, f.st.Hash, root)
		}
		return tampered("root: the checkpoint of size %d says %x, but its tiles hash to %x", size, cp.Hash, root)
	}
	if err := f.checkUpper(ctx, size, upper); err != nil {
		return err
	}
	f.rng, f.legacy = rng, nil
	f.st = State{Key: f.key, Origin: cp.Origin, Size: size, Hash: bytes.Clone(cp.Hash[:]), Checkpoint: string(cp.Raw), VerifiedAt: f.cfg.Now().UTC()}
	f.pending = pending
	if f.next == f.st.Size {
		f.done = f.snapshot()
	}
	return nil
}

// checkUpper compares the hashes of the higher tiles at the subtrees the
// new entries completed.
func (f *Follower) checkUpper(ctx context.Context, size uint64, upper map[compact.NodeID][]byte) error {
	type tileID struct{ level, index uint64 }
	tiles := map[tileID][]compact.NodeID{}
	for id := range upper {
		level := uint64(id.Level) / layout.TileHeight
		tiles[tileID{level, id.Index / layout.TileWidth}] = append(tiles[tileID{level, id.Index / layout.TileWidth}], id)
	}
	for t, ids := range tiles {
		p := layout.PartialTileSize(t.level, t.index, size)
		b, err := f.remote.ReadTile(ctx, t.level, t.index, p)
		if errors.Is(err, fs.ErrNotExist) {
			return tampered("log truncated: %v", err)
		} else if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		want := uint64(layout.TileWidth)
		if p > 0 {
			want = uint64(p)
		}
		if uint64(len(b)) != 32*want {
			return tampered("tile %d/%d has %d bytes, want %d hashes", t.level, t.index, len(b), want)
		}
		for _, id := range ids {
			k := id.Index % layout.TileWidth
			if served := b[32*k : 32*k+32]; !bytes.Equal(served, upper[id]) {
				return tampered("tile %d/%d: hash %d is %x, but the entries give %x", t.level, t.index, k, served, upper[id])
			}
		}
	}
	return nil
}

// deliver fetches the bundles of the entries [next, st.Size), checks each
// entry against its pending hash, decodes it and hands it over.
func (f *Follower) deliver(ctx context.Context, step *FollowStep) error {
	size := f.st.Size
	first, last := f.next/layout.EntryBundleWidth, (size+layout.EntryBundleWidth-1)/layout.EntryBundleWidth
	next, stop := fetchOrdered(ctx, first, last, f.cfg.Workers, func(ctx context.Context, bi uint64) ([]byte, error) {
		return f.remote.ReadEntryBundle(ctx, bi, layout.PartialTileSize(0, bi, size))
	})
	defer stop()
	var b api.EntryBundle
	for bi := first; bi < last; bi++ {
		raw, err := next(bi)
		if errors.Is(err, fs.ErrNotExist) {
			return tampered("log truncated: the checkpoint has %d entries, but %v", size, err)
		} else if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		want := uint64(layout.EntryBundleWidth)
		if p := layout.PartialTileSize(0, bi, size); p > 0 {
			want = uint64(p)
		}
		if err := b.UnmarshalText(raw); err != nil {
			return tampered("entry bundle %d: %v", bi, err)
		}
		if uint64(len(b.Entries)) < want {
			return tampered("log truncated: entry bundle %d has %d entries, the checkpoint of size %d needs %d", bi, len(b.Entries), size, want)
		}
		for k := f.next - bi*layout.EntryBundleWidth; k < want; k++ {
			if err := f.hand(b.Entries[k], step); err != nil {
				return err
			}
		}
	}
	f.pending = f.pending[:0]
	f.done = f.snapshot()
	return nil
}

// hand checks entry f.next, raw, against its pending hash, decodes it and
// hands it over.
func (f *Follower) hand(raw []byte, step *FollowStep) error {
	index := f.next
	h := LeafHash(raw)
	if want := f.pending[:32]; !bytes.Equal(h[:], want) {
		return tampered("entry %d hashes to %x, but its tile holds %x", index, h, want)
	}
	e, err := DecodeAny(raw)
	if err != nil {
		return tampered("entry %d: %v", index, err)
	}
	f.pending = f.pending[32:]
	f.next++
	if f.cfg.Entry != nil {
		f.cfg.Entry(index, e)
	}
	if e.Agreement != nil {
		step.Agreements++
		f.agreements = append(f.agreements, FollowedAgreement{Index: index, Entry: bytes.Clone(raw)})
		f.comp.Agreement(index, e.Agreement)
		return nil
	}
	f.comp.Access(index, e.Access)
	if len(f.comp.Findings) > 0 {
		if f.cfg.Finding != nil {
			for _, fd := range f.comp.Findings {
				f.cfg.Finding(fd)
			}
		}
		f.comp.Findings = f.comp.Findings[:0]
	}
	return nil
}

func rangeRoot(r *compact.Range) []byte {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	root, _ := r.GetRootHash(nil)
	return root
}
