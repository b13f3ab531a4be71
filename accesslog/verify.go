package accesslog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse/internal/atomicfile"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// ErrTampered is wrapped by every Verify error that shows the log is not
// what it claims: a bad signature, a changed key, a fork, a truncation, a
// tile or entry that differs from the recomputed tree. Other errors (the
// network, the state file) do not wrap it.
var ErrTampered = errors.New("the log does not verify")

// ErrState is wrapped by every Verify error about the auditor's own state
// file: it cannot be read, is not a state, or the new state cannot be
// saved. Such an error says nothing about the log.
var ErrState = errors.New("audit state")

// VerifyConfig says which log Verify checks and how.
type VerifyConfig struct {
	// URL is the server's base URL; the log is under URL/log/.
	URL string
	// Key is the verifier key the auditor trusts, in note form. Empty
	// means the key from the state file, or on a first run the one the
	// server publishes at /log/key (trust on first use).
	Key string
	// StateFile keeps the last verified checkpoint (JSON); the next run
	// checks the log is consistent with it. Empty means no state.
	StateFile string
	Client    *http.Client
	// Progress, if set, is called as entries are verified.
	Progress func(done, total uint64)
	// Entry, if set, is called with every entry in index order, once it
	// has been decoded and matched against its tile. e is reused: copy
	// what you keep. The log as a whole is verified only if Verify then
	// returns no error.
	Entry func(index uint64, e *Entry)
	// Agreement, if set, is called likewise with every agreement entry.
	Agreement func(index uint64, a *AgreementEntry)
	// Workers is how many resources are fetched at once (default 8).
	Workers int
	// Now stamps the state file (default time.Now).
	Now func() time.Time
	// Witnesses, if set, must cosign the checkpoint: a quorum of valid
	// cosignatures (WitnessPolicy.Open), else an error wrapping
	// ErrTampered.
	Witnesses *WitnessPolicy
}

// State is what the state file keeps of the last verified checkpoint.
type State struct {
	Key        string    `json:"key"`
	Origin     string    `json:"origin"`
	Size       uint64    `json:"size"`
	Hash       []byte    `json:"hash"`
	Checkpoint string    `json:"checkpoint"`
	VerifiedAt time.Time `json:"verified_at"`
}

// Count is how many entries share a partner, scope, decision and reason.
// An entry with several scopes counts once under each.
type Count struct {
	Partner  string `json:"partner"`
	Scope    string `json:"scope"` // "" for an entry with no scope
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	N        uint64 `json:"n"`
}

// Report is the outcome of a successful Verify.
type Report struct {
	Checkpoint *Checkpoint
	Previous   *State  // the state before this run; nil on a first run
	Entries    uint64  // of both kinds
	Agreements uint64  // the agreement entries among them
	Counts     []Count // of the access entries, sorted by partner, scope, decision, reason
}

// Sum returns the entries of partner and scope with the decision
// ("granted" or "denied"), over all reasons.
func (r *Report) Sum(partner, scope, decision string) uint64 {
	var n uint64
	for _, c := range r.Counts {
		if c.Partner == partner && c.Scope == scope && c.Decision == decision {
			n += c.N
		}
	}
	return n
}

// Verify checks the whole log served at cfg.URL: the checkpoint's signature
// under the trusted key, its consistency with the last checkpoint seen (the
// state file), every entry (decoded strictly) against the level-0 tiles,
// every higher tile against the tree recomputed from the entries, and the
// recomputed root against the checkpoint. It then counts the entries and,
// only when all of that holds, saves the new checkpoint as the state.
func Verify(ctx context.Context, cfg VerifyConfig) (*Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	remote := NewRemote(cfg.URL, cfg.Client)
	prev, err := readState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	served, err := remote.ReadVerifierKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: key: %w", err)
	}
	trusted := cfg.Key
	if trusted == "" && prev != nil {
		trusted = prev.Key
	}
	if trusted == "" {
		trusted = served
	}
	if served != trusted {
		return nil, &KeyChangedError{Served: served, Trusted: trusted, Saved: cfg.Key == ""}
	}
	v, err := NewVerifier(trusted)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	raw, err := remote.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: checkpoint: %w", err)
	}
	cp, err := cfg.Witnesses.Open(raw, v)
	if errors.Is(err, ErrTampered) {
		return nil, fmt.Errorf("verify: %w", err)
	} else if err != nil {
		return nil, tampered("%v", err)
	}
	if prev != nil {
		switch {
		case prev.Origin != cp.Origin:
			return nil, tampered("origin is %q, but the checkpoint seen on %s was for %q", cp.Origin, prev.VerifiedAt.Format(time.RFC3339), prev.Origin)
		case cp.Size < prev.Size:
			return nil, tampered("log truncated: the checkpoint has %d entries, but the one seen on %s had %d", cp.Size, prev.VerifiedAt.Format(time.RFC3339), prev.Size)
		case cp.Size == prev.Size && !bytes.Equal(cp.Hash[:], prev.Hash):
			return nil, tampered("fork: the checkpoint of size %d has root %x, but the one seen on %s at the same size had root %x", cp.Size, cp.Hash, prev.VerifiedAt.Format(time.RFC3339), prev.Hash)
		}
	}
	check, err := verifyTree(ctx, remote, cp, prev, cfg)
	if err != nil {
		return nil, err
	}
	rep := &Report{Checkpoint: cp, Previous: prev, Entries: cp.Size, Agreements: check.agreements, Counts: check.sortedCounts()}
	if cfg.StateFile != "" {
		st := State{Key: trusted, Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash[:], Checkpoint: string(raw), VerifiedAt: cfg.Now().UTC()}
		b, _ := json.MarshalIndent(st, "", "  ")
		if err := os.MkdirAll(filepath.Dir(cfg.StateFile), 0o700); err != nil {
			return nil, stateError(cfg.StateFile, "the log verified, but its checkpoint cannot be remembered: %w", err)
		}
		if err := atomicfile.Write(cfg.StateFile, append(b, '\n'), 0o644); err != nil {
			return nil, stateError(cfg.StateFile, "the log verified, but its checkpoint cannot be remembered: %w", err)
		}
	}
	return rep, nil
}

// fetched is one entry bundle and its level-0 tile.
type fetched struct{ bundle, tile []byte }

// prefetch fetches the entry bundles of a tree of size entries, with their
// level-0 tiles, at most 2*workers ahead of the reader (see fetchOrdered):
// next(i) for i = 0, 1, … hands them out in order.
func prefetch(ctx context.Context, r *Remote, size uint64, workers int) (next func(bundle uint64) (fetched, error), stop func()) {
	nb := (size + layout.EntryBundleWidth - 1) / layout.EntryBundleWidth
	return fetchOrdered(ctx, 0, nb, workers, func(ctx context.Context, i uint64) (f fetched, err error) {
		p := layout.PartialTileSize(0, i, size)
		if f.bundle, err = r.ReadEntryBundle(ctx, i, p); err != nil {
			return f, err
		}
		f.tile, err = r.ReadTile(ctx, 0, i, p)
		return f, err
	})
}

// treeCheck recomputes a tree entry by entry, comparing each entry's hash
// with its served tile, and the root at the previous state's size with the
// root seen then; it counts the entries as it goes.
type treeCheck struct {
	rng        *compact.Range
	upper      map[compact.NodeID][]byte // perfect nodes at tree levels 8, 16, …: the higher tiles' hashes
	prev       *State
	counts     map[Count]uint64
	agreements uint64
	entry      Entry
	agreement  AgreementEntry
}

func newTreeCheck(prev *State) *treeCheck {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &treeCheck{rng: rf.NewEmptyRange(0), upper: map[compact.NodeID][]byte{}, prev: prev, counts: map[Count]uint64{}}
}

// bundle checks bundle number bi of a tree of size entries against its
// level-0 tile, entry by entry, calling each with the decoded entry.
func (c *treeCheck) bundle(bi, size uint64, f fetched, cfg VerifyConfig) error {
	want := uint64(layout.EntryBundleWidth)
	if p := layout.PartialTileSize(0, bi, size); p > 0 {
		want = uint64(p)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(f.bundle); err != nil {
		return tampered("entry bundle %d: %v", bi, err)
	}
	if uint64(len(b.Entries)) < want {
		return tampered("log truncated: entry bundle %d has %d entries, the checkpoint of size %d needs %d", bi, len(b.Entries), size, want)
	}
	if uint64(len(f.tile)) != 32*want {
		return tampered("tile 0/%d has %d bytes, want %d hashes", bi, len(f.tile), want)
	}
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 && id.Level%layout.TileHeight == 0 {
			c.upper[id] = h
		}
	}
	for k := range want {
		index := bi*layout.EntryBundleWidth + k
		raw := b.Entries[k]
		agreement := len(raw) > 0 && raw[0] == AgreementKind
		var err error
		if agreement {
			err = c.agreement.UnmarshalBinary(raw)
		} else {
			err = c.entry.UnmarshalBinary(raw)
		}
		if err != nil {
			return tampered("entry %d: %v", index, err)
		}
		h := LeafHash(raw)
		if served := f.tile[32*k : 32*k+32]; !bytes.Equal(served, h[:]) {
			return tampered("tile 0/%d: hash %d (entry %d) is %x, but the entry hashes to %x", bi, k, index, served, h)
		}
		if err := c.rng.Append(h[:], visit); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if p := c.prev; p != nil && c.rng.End() == p.Size {
			if root, _ := c.rng.GetRootHash(nil); !bytes.Equal(root, p.Hash) {
				return tampered("fork: the first %d entries hash to root %x, but the checkpoint seen on %s at that size had root %x", p.Size, root, p.VerifiedAt.Format(time.RFC3339), p.Hash)
			}
		}
		switch {
		case agreement:
			c.agreements++
			if cfg.Agreement != nil {
				cfg.Agreement(index, &c.agreement)
			}
		default:
			count(c.counts, &c.entry)
			if cfg.Entry != nil {
				cfg.Entry(index, &c.entry)
			}
		}
	}
	return nil
}

// root returns the recomputed tree's root.
func (c *treeCheck) root() []byte {
	if c.rng.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	root, _ := c.rng.GetRootHash(nil)
	return root
}

// sortedCounts returns the counts sorted by partner, scope, decision and
// reason.
func (c *treeCheck) sortedCounts() []Count {
	out := make([]Count, 0, len(c.counts))
	for k, n := range c.counts {
		k.N = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Partner, b.Partner), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Decision, b.Decision), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// verifyTree recomputes the tree of cp from the served entries, comparing
// it with the served tiles, the previous state's root at its size, and
// cp's root; it returns the check, which counted the entries.
func verifyTree(ctx context.Context, r *Remote, cp *Checkpoint, prev *State, cfg VerifyConfig) (*treeCheck, error) {
	size := cp.Size
	next, stop := prefetch(ctx, r, size, cfg.Workers)
	defer stop()
	check := newTreeCheck(prev)
	for bi := range (size + layout.EntryBundleWidth - 1) / layout.EntryBundleWidth {
		f, err := next(bi)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, tampered("log truncated: the checkpoint has %d entries, but %v", size, err)
		} else if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if err := check.bundle(bi, size, f, cfg); err != nil {
			return nil, err
		}
		if cfg.Progress != nil {
			cfg.Progress(min((bi+1)*layout.EntryBundleWidth, size), size)
		}
	}
	if root := check.root(); !bytes.Equal(root, cp.Hash[:]) {
		return nil, tampered("root: the checkpoint of size %d says %x, but the entries hash to %x", size, cp.Hash, root)
	}
	if err := verifyUpperTiles(ctx, r, size, check.upper); err != nil {
		return nil, err
	}
	return check, nil
}

// verifyUpperTiles compares every tile above level 0 with the perfect
// subtree hashes recomputed from the entries.
func verifyUpperTiles(ctx context.Context, r *Remote, size uint64, upper map[compact.NodeID][]byte) error {
	for level := uint64(1); size>>(layout.TileHeight*level) > 0; level++ {
		nodes := size >> (layout.TileHeight * level)
		for ti := uint64(0); ti*layout.TileWidth < nodes; ti++ {
			p := layout.PartialTileSize(level, ti, size)
			t, err := r.ReadTile(ctx, level, ti, p)
			if errors.Is(err, fs.ErrNotExist) {
				return tampered("log truncated: %v", err)
			} else if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			want := uint64(layout.TileWidth)
			if p > 0 {
				want = uint64(p)
			}
			if uint64(len(t)) != 32*want {
				return tampered("tile %d/%d has %d bytes, want %d hashes", level, ti, len(t), want)
			}
			for k := range want {
				id := compact.NewNodeID(uint(layout.TileHeight*level), ti*layout.TileWidth+k)
				if h := upper[id]; !bytes.Equal(t[32*k:32*k+32], h) {
					return tampered("tile %d/%d: hash %d is %x, but the entries give %x", level, ti, k, t[32*k:32*k+32], h)
				}
			}
		}
	}
	return nil
}

func count(counts map[Count]uint64, e *Entry) {
	c := Count{Partner: e.PartnerID, Decision: e.Decision.String(), Reason: e.Reason}
	if len(e.Scopes) == 0 {
		counts[c]++
	}
	for _, s := range e.Scopes {
		c.Scope = s
		counts[c]++
	}
}

func readState(path string) (*State, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, stateError(path, "%w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, stateError(path, "not a state file: %w", err)
	}
	if len(st.Hash) != 32 || st.Key == "" {
		return nil, stateError(path, "not a state file: no key or no 32-byte hash")
	}
	return &st, nil
}

// stateError is an error about the state file at path.
func stateError(path, format string, args ...any) error {
	return fmt.Errorf("%w file %s: %w", ErrState, path, fmt.Errorf(format, args...))
}

// KeyChangedError is a server that publishes another key than the one
// trusted: the one given, or the one verified before (Saved), kept in the
// state. It is ErrTampered: it may as well be a log started over on
// purpose, which only whoever keeps the state can tell.
type KeyChangedError struct {
	Served, Trusted string
	Saved           bool // Trusted is the key of the saved state, not one given
}

func (e *KeyChangedError) Error() string {
	from := "the trusted key"
	if e.Saved {
		from = "the key verified before"
	}
	return fmt.Sprintf("verify: %v: the server publishes key %q, but %s is %q", ErrTampered, e.Served, from, e.Trusted)
}

func (e *KeyChangedError) Unwrap() error { return ErrTampered }

func tampered(format string, args ...any) error {
	return fmt.Errorf("verify: %w: %s", ErrTampered, fmt.Sprintf(format, args...))
}
