package accesslog_test

import (
	"encoding/hex"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
)

// TestMemberTagVector checks K_member and tags against values computed
// independently with Python's hmac and hashlib (HKDF written out per
// RFC 5869: salt = 32 zero bytes, one expand block).
func TestMemberTagVector(t *testing.T) {
	k, err := accesslog.DeriveMemberKey(testMaster, 42)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(k[:]), "fde5d7d7a0c4dc3f29e2202b6f2255bbf5686e80383e10e0cc4bfc3613c6dff9"; got != want {
		t.Errorf("K_member = %s, want %s", got, want)
	}
	for _, v := range []struct {
		counter uint64
		tag     string
	}{
		{1, "ff1f3bf9347aea3c6195d047f1843ac03f9922161da19dab02635d231116dc6d"},
		{2, "b93f18b8d8f45a16350d699148c76dcd2e88cbe398763cf948bca322a1208535"},
	} {
		if got := k.Tag(v.counter).String(); got != v.tag {
			t.Errorf("tag %d = %s, want %s", v.counter, got, v.tag)
		}
	}
}

func TestMemberKeyDistinct(t *testing.T) {
	a, _ := accesslog.DeriveMemberKey(testMaster, 1)
	b, _ := accesslog.DeriveMemberKey(testMaster, 2)
	other := append([]byte{1}, testMaster[1:]...)
	c, _ := accesslog.DeriveMemberKey(other, 1)
	if a == b || a == c || a.Tag(1) == a.Tag(2) || a.Tag(1) == b.Tag(1) {
		t.Error("keys or tags collide across members, master keys or counters")
	}
	if _, err := accesslog.DeriveMemberKey(testMaster[:31], 1); err == nil {
		t.Error("a 31-byte master key was accepted")
	}
}

func TestFindTrail(t *testing.T) {
	k, _ := accesslog.DeriveMemberKey(testMaster, 7)
	other, _ := accesslog.DeriveMemberKey(testMaster, 8)
	log := map[accesslog.Tag]uint64{}
	put := func(key accesslog.MemberKey, counter, index uint64) { log[key.Tag(counter)] = index }
	put(k, 1, 10)
	put(other, 1, 11)
	put(k, 2, 12)
	put(k, 4, 20) // counter 3 was never logged
	put(k, 5, 21) // and the store says the member has 4 accesses
	lookup := func(tag accesslog.Tag) (uint64, bool) { i, ok := log[tag]; return i, ok }

	tests := []struct {
		name    string
		n       uint64
		found   []accesslog.Sighting
		missing []uint64
	}{
		{"store count 4", 4, []accesslog.Sighting{{1, 10}, {2, 12}, {4, 20}, {5, 21}}, []uint64{3}},
		{"store count 7", 7, []accesslog.Sighting{{1, 10}, {2, 12}, {4, 20}, {5, 21}}, []uint64{3, 6, 7}},
		{"store count 0", 0, []accesslog.Sighting{{1, 10}, {2, 12}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := k.FindTrail(tt.n, lookup)
			if !slices.Equal(tr.Found, tt.found) || !slices.Equal(tr.Missing, tt.missing) {
				t.Errorf("FindTrail(%d) = %+v, want found %v missing %v", tt.n, tr, tt.found, tt.missing)
			}
		})
	}
}
