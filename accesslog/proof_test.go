package accesslog_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// tlogTiles adapts the served C2SP tiles to x/mod's tlog.TileReader, whose
// TileHashReader checks every tile it reads against the tree hash.
type tlogTiles struct {
	ctx    context.Context
	remote *accesslog.Remote
}

func (r tlogTiles) Height() int { return 8 }

func (r tlogTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := uint8(0)
		if t.W < 256 {
			p = uint8(t.W)
		}
		b, err := r.remote.ReadTile(r.ctx, uint64(t.L), uint64(t.N), p)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (r tlogTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// independentCheckpoint fetches the served checkpoint and opens it with
// tlogtest, without this package.
func independentCheckpoint(t *testing.T, base, vkey string) tlog.Tree {
	t.Helper()
	resp, err := http.Get(base + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	cp := tlogtest.Open(t, raw, vkey)
	if cp.Origin != "glasshouse.example/log" {
		t.Errorf("origin %q", cp.Origin)
	}
	return cp.Tree
}

// TestInclusionIndependent proves every entry of a served log with the
// package's InclusionProof and checks each proof with x/mod's tlog and
// with merkle/proof, after x/mod's own TileHashReader has checked the tiles
// and built its own proof for comparison.
func TestInclusionIndependent(t *testing.T) {
	ctx := context.Background()
	const n = 1000
	_, _, srv := MustLog(t, n)
	tree := independentCheckpoint(t, srv.URL, MustKey(t).VerifierKey)
	if tree.N != n {
		t.Fatalf("tree size %d, want %d", tree.N, n)
	}
	remote := accesslog.NewRemote(srv.URL, nil)
	hr := tlog.TileHashReader(tree, tlogTiles{ctx, remote})
	if th, err := tlog.TreeHash(tree.N, hr); err != nil || th != tree.Hash {
		t.Fatalf("x/mod tlog recomputes tree hash %v (%v), checkpoint says %v", th, err, tree.Hash)
	}
	for i := range int64(n) {
		entry, err := accesslog.ReadEntry(ctx, remote, uint64(i), n)
		if err != nil {
			t.Fatal(err)
		}
		p, err := accesslog.InclusionProof(ctx, remote, uint64(i), n)
		if err != nil {
			t.Fatal(err)
		}
		rp := make(tlog.RecordProof, len(p))
		for k := range p {
			copy(rp[k][:], p[k])
		}
		if err := tlog.CheckRecord(rp, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			t.Fatalf("entry %d: x/mod tlog rejects the proof: %v", i, err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), n, rfc6962.DefaultHasher.HashLeaf(entry), p, tree.Hash[:]); err != nil {
			t.Fatalf("entry %d: merkle/proof rejects the proof: %v", i, err)
		}
		if i%97 == 0 {
			theirs, err := tlog.ProveRecord(tree.N, i, hr)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(theirs) != fmt.Sprint(rp) {
				t.Fatalf("entry %d: proof differs from x/mod tlog's", i)
			}
		}
	}
	// A proof for the wrong entry must fail.
	p, _ := accesslog.InclusionProof(ctx, remote, 5, n)
	if err := accesslog.VerifyInclusion(6, n, accesslog.LeafHash(MustEncode(t, testEntry(t, 5))), p, tree.Hash); err == nil {
		t.Error("a proof for entry 5 verified at index 6")
	}
}

// TestConsistencyIndependent grows a log and checks the package's
// consistency proof between the two checkpoints with x/mod's tlog.
func TestConsistencyIndependent(t *testing.T) {
	ctx := context.Background()
	dir, o, srv := MustLog(t, 300)
	old := independentCheckpoint(t, srv.URL, MustKey(t).VerifierKey)

	fillOutbox(t, o, 300, 1100)
	f := MustFeeder(t, dir, o)
	MustDrain(t, f)
	tree := independentCheckpoint(t, srv.URL, MustKey(t).VerifierKey)
	if tree.N != 1100 {
		t.Fatalf("size %d", tree.N)
	}
	remote := accesslog.NewRemote(srv.URL, nil)
	for _, older := range []uint64{1, 255, 256, 300, 1099, 1100} {
		p, err := accesslog.ConsistencyProof(ctx, remote, older, 1100)
		if err != nil {
			t.Fatal(err)
		}
		tp := make(tlog.TreeProof, len(p))
		for k := range p {
			copy(tp[k][:], p[k])
		}
		hr := tlog.TileHashReader(tree, tlogTiles{ctx, remote})
		oldHash, err := tlog.TreeHash(int64(older), hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(tp, tree.N, tree.Hash, int64(older), oldHash); err != nil {
			t.Errorf("size %d: x/mod tlog rejects the consistency proof: %v", older, err)
		}
	}
	p, err := accesslog.ConsistencyProof(ctx, remote, 300, 1100)
	if err != nil {
		t.Fatal(err)
	}
	tp := make(tlog.TreeProof, len(p))
	for k := range p {
		copy(tp[k][:], p[k])
	}
	if err := tlog.CheckTree(tp, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		t.Errorf("the two published checkpoints are not consistent: %v", err)
	}
	if err := accesslog.VerifyConsistency(300, 1100, old.Hash, tree.Hash, p); err != nil {
		t.Error(err)
	}
	forged := old.Hash
	forged[0] ^= 1
	if err := tlog.CheckTree(tp, tree.N, tree.Hash, old.N, forged); err == nil {
		t.Error("a forked old root verified")
	}
}
