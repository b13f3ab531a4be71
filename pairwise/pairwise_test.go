package pairwise_test

import (
	"testing"

	"github.com/glasshouse/glasshouse/pairwise"
)

func TestID(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a := pairwise.ID(key, "streamflix", 42)
	if len(a) != 22 {
		t.Fatalf("len %d, want 22", len(a))
	}
	// Known answer, computed independently with Python's hmac module, so a
	// change of derivation (which would re-key every partner's ids) cannot
	// pass unnoticed.
	if want := "Lwly8wpksbPCbTIJRPwuhg"; a != want {
		t.Errorf("ID = %q, want %q", a, want)
	}
	for name, other := range map[string]string{
		"same partner, same member":  pairwise.ID(key, "streamflix", 42),
		"other partner":              pairwise.ID(key, "shopzon", 42),
		"other member":               pairwise.ID(key, "streamflix", 43),
		"other key":                  pairwise.ID([]byte("another key of 32 bytes........."), "streamflix", 42),
		"client id prefix ambiguity": pairwise.ID(key, "streamflix\x00", 42),
	} {
		if same := other == a; same != (name == "same partner, same member") {
			t.Errorf("%s: %q vs %q", name, other, a)
		}
	}
}
