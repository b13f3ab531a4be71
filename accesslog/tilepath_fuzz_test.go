package accesslog

import (
	"math/big"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera/api/layout"
)

// tilePathRE is the canonical form of a C2SP tlog-tiles path after
// /log/tile/: a level 0 to 63 or "entries", an index in groups of three
// digits (every group but the last prefixed with x), and for a partial
// tile ".p/" and a width 1 to 255.
var tilePathRE = regexp.MustCompile(`^(entries|[0-9]|[1-5][0-9]|6[0-3])/((?:x[0-9]{3}/)*)([0-9]{3})(\.p/([1-9][0-9]{0,2}))?$`)

// canonicalTilePath is the oracle of FuzzTilePath, written from the spec
// rather than from tessera's layout package: p matches tilePathRE, the
// width is at most 255, the index fits in 64 bits, and its leading group
// is not x000 (which would spell the same index twice).
func canonicalTilePath(p string) (partial, ok bool) {
	m := tilePathRE.FindStringSubmatch(p)
	if m == nil {
		return false, false
	}
	if m[5] != "" {
		if w, _ := strconv.Atoi(m[5]); w > 255 {
			return false, false
		}
	}
	if strings.HasPrefix(m[2], "x000/") {
		return false, false
	}
	digits := strings.ReplaceAll(strings.ReplaceAll(m[2], "x", ""), "/", "") + m[3]
	n, _ := new(big.Int).SetString(digits, 10)
	if n.BitLen() > 64 {
		return false, false
	}
	return m[4] != "", true
}

// FuzzTilePath parses arbitrary tile paths, and the paths of arbitrary
// tiles. Property: a path is accepted exactly when it is the canonical
// spelling of a tile or entry bundle (checked against an oracle written
// from C2SP tlog-tiles), the file it names is that path under tile/, clean
// and without "..", and every tile's own path is accepted: parse(format(x))
// names x.
func FuzzTilePath(f *testing.F) {
	for _, p := range []string{"0/000", "entries/000", "1/x001/234.p/5", "entries/x123/456", "63/000.p/255",
		"64/000", "0/x000/001", "0/00", "0/000.p/0", "0/000.p/256", "../000", "0/000/..", "0/x018/x446/x744/x073/x709/x551/615",
		"0/x018/x446/x744/x073/x709/x551/616", "00/000", "+1/000", "0/000.p/05"} {
		f.Add(p, uint64(0), uint64(0), uint8(0), false)
	}
	f.Add("", uint64(63), uint64(1<<64-1), uint8(255), false)
	f.Add("", uint64(0), uint64(1234567), uint8(3), true)
	f.Fuzz(func(t *testing.T, p string, level, index uint64, width uint8, entries bool) {
		rel, partial, ok := tilePath(p)
		wantPartial, wantOK := canonicalTilePath(p)
		if ok != wantOK || (ok && partial != wantPartial) {
			t.Fatalf("tilePath(%q) = %q, partial %v, ok %v; the spec says partial %v, ok %v", p, rel, partial, ok, wantPartial, wantOK)
		}
		if ok && (rel != "tile/"+p || path.Clean(rel) != rel || strings.Contains(rel, "..")) {
			t.Fatalf("tilePath(%q) names %q", p, rel)
		}
		// The path of a tile (level mod 64) or entry bundle.
		var own string
		if entries {
			own = layout.EntriesPath(index, width)
		} else {
			own = layout.TilePath(level%64, index, width)
		}
		own = strings.TrimPrefix(own, "tile/")
		rel, partial, ok = tilePath(own)
		if !ok || rel != "tile/"+own || partial != (width > 0) {
			t.Fatalf("tilePath(%q) = %q, partial %v, ok %v; want it accepted", own, rel, partial, ok)
		}
	})
}
