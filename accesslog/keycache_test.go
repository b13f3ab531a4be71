package accesslog_test

import (
	"bytes"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
)

// TestMemberKeyCache checks that cached keys are the derived ones, through
// hits, misses and evictions, and that the cache stays within its size.
func TestMemberKeyCache(t *testing.T) {
	master := bytes.Repeat([]byte{7}, accesslog.MinMasterKeySize)
	c := accesslog.NewMemberKeyCache(master, 3)
	for _, id := range []int64{1, 2, 3, 1, 4, 5, 1, 2, 2, 6, 3, 1} {
		got, err := c.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := accesslog.DeriveMemberKey(master, id)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("member %d: cached key %x, want %x", id, got, want)
		}
		if n := c.Len(); n > 3 {
			t.Fatalf("cache holds %d keys, more than 3", n)
		}
	}
	if _, err := accesslog.NewMemberKeyCache(master[:8], 3).Get(1); err == nil {
		t.Error("a short master key was accepted")
	}
}
