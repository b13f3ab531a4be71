package tlogtest_test

import (
	"crypto/rand"
	"encoding/base64"
	"go/build"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/internal/failtest"
	"github.com/glasshouse/glasshouse/internal/tlogtest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// mustSign signs text as a note with a new key named name; it returns the
// note and the verifier key.
func mustSign(t *testing.T, name, text string) ([]byte, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return signed, vkey
}

// opener returns a func that opens text signed with a new key named name.
func opener(t *testing.T, name, text string) func(testing.TB) {
	signed, key := mustSign(t, name, text)
	return func(tb testing.TB) { tlogtest.Open(tb, signed, key) }
}

func TestOpen(t *testing.T) {
	var root tlog.Hash
	copy(root[:], "0123456789abcdef0123456789abcdef")
	body := "example.org/log\n42\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
	signed, vkey := mustSign(t, "example.org/log", body)
	cp := tlogtest.Open(t, signed, " "+vkey+"\n")
	if cp.Origin != "example.org/log" || cp.N != 42 || cp.Hash != root {
		t.Errorf("Open = %+v", cp)
	}

	other, otherKey := mustSign(t, "example.org/log", body)
	hash := base64.StdEncoding.EncodeToString(root[:])
	for _, tc := range []struct {
		name string
		open func(tb testing.TB)
	}{
		{"malformed key", func(tb testing.TB) { tlogtest.Open(tb, signed, "not a key") }},
		{"another key", func(tb testing.TB) { tlogtest.Open(tb, signed, otherKey) }},
		{"tampered", func(tb testing.TB) { tlogtest.Open(tb, append([]byte("x"), other...), otherKey) }},
		{"origin not the key's name", opener(t, "example.org/other", body)},
		{"no size", opener(t, "o", "o\nmany\n"+hash+"\n")},
		{"negative size", opener(t, "o", "o\n-1\n"+hash+"\n")},
		{"short hash", opener(t, "o", "o\n1\n"+hash[:12]+"\n")},
		{"no hash", opener(t, "o", "o\n1\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if failed := failtest.Run(t, tc.open); len(failed) == 0 {
				t.Error("passed; want a failure")
			} else {
				t.Logf("failed: %q", failed)
			}
		})
	}
}

// TestIndependent keeps the package independent of the code it checks: it
// imports nothing of glasshouse's.
func TestIndependent(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/glasshouse/glasshouse") {
			t.Errorf("tlogtest imports %s", imp)
		}
	}
}
