package accesslog_test

import (
	"encoding/hex"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
)

// testSecret is a member secret for the known-answer test: bytes 0..31.
var testSecret = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// secretOf is a distinct member secret per member number.
func secretOf(n byte) []byte { return append([]byte{n}, testSecret[1:]...) }

// TestMemberTagVector checks K_member and tags against values computed
// independently with Python's hmac and hashlib (HKDF written out per
// RFC 5869: salt = the member secret, one expand block).
func TestMemberTagVector(t *testing.T) {
	k, err := accesslog.DeriveMemberKey(testMaster, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(k[:]), "850a17c7fd880ae3da33e42fdcbeab8577024aa2a482a0f11312b350b54d141e"; got != want {
		t.Errorf("K_member = %s, want %s", got, want)
	}
	for _, v := range []struct {
		counter uint64
		tag     string
	}{
		{1, "756a93a1c14a8aed23d963681d5b6bccb7cbda11506fba9cf1c2578d9b9e0c2f"},
		{2, "edc378633df3956a63188986d220d9f8cd915d1fde1e02f59b88f9150381c40d"},
	} {
		if got := k.Tag(v.counter).String(); got != v.tag {
			t.Errorf("tag %d = %s, want %s", v.counter, got, v.tag)
		}
	}
}

func TestMemberKeyDistinct(t *testing.T) {
	a, _ := accesslog.DeriveMemberKey(testMaster, secretOf(1))
	b, _ := accesslog.DeriveMemberKey(testMaster, secretOf(2))
	other := append([]byte{1}, testMaster[1:]...)
	c, _ := accesslog.DeriveMemberKey(other, secretOf(1))
	if a == b || a == c || a.Tag(1) == a.Tag(2) || a.Tag(1) == b.Tag(1) {
		t.Error("keys or tags collide across members, master keys or counters")
	}
	if _, err := accesslog.DeriveMemberKey(testMaster[:31], secretOf(1)); err == nil {
		t.Error("a 31-byte master key was accepted")
	}
	if _, err := accesslog.DeriveMemberKey(testMaster, testSecret[:31]); err == nil {
		t.Error("a 31-byte member secret was accepted")
	}
}

func TestFindTrail(t *testing.T) {
	k, _ := accesslog.DeriveMemberKey(testMaster, secretOf(7))
	other, _ := accesslog.DeriveMemberKey(testMaster, secretOf(8))
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
