package accesslog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
	"golang.org/x/mod/sumdb/note"
)

func verify(t testing.TB, url, state string) (*accesslog.Report, error) {
	t.Helper()
	return accesslog.Verify(context.Background(), accesslog.VerifyConfig{URL: url, StateFile: state})
}

func TestVerifyCountsAndGrows(t *testing.T) {
	dir, o, srv := MustLog(t, 1000)
	state := filepath.Join(t.TempDir(), "state.json")
	var last uint64
	rep, err := accesslog.Verify(context.Background(), accesslog.VerifyConfig{
		URL: srv.URL, StateFile: state, Progress: func(done, total uint64) { last = done },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 1000 || last != 1000 || rep.Previous != nil {
		t.Fatalf("entries %d, progress %d, previous %v", rep.Entries, last, rep.Previous)
	}
	// Count the test stream by hand.
	want := map[string]uint64{}
	for i := range 1000 {
		e := testEntry(t, i)
		want[fmt.Sprintf("%s %s %s", e.PartnerID, e.Scopes[0], e.Decision)]++
	}
	for k, n := range want {
		f := strings.Fields(k)
		if got := rep.Sum(f[0], f[1], f[2]); got != n {
			t.Errorf("%s: %d, want %d", k, got, n)
		}
	}
	if got := rep.Sum("streamflix", "messages.read", "granted"); got != want["streamflix messages.read granted"] {
		t.Errorf("streamflix messages.read granted: %d", got)
	}

	// The log grows; the next run checks it extends the one seen.
	fillOutbox(t, o, 1000, 1300)
	f := MustFeeder(t, dir, o)
	MustDrain(t, f)
	rep, err = verify(t, srv.URL, state)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 1300 || rep.Previous == nil || rep.Previous.Size != 1000 {
		t.Fatalf("second run: entries %d, previous %+v", rep.Entries, rep.Previous)
	}
}

// signCheckpoint signs a checkpoint body with the real log key: what an
// operator who wants to lie can always do.
func signCheckpoint(t *testing.T, size uint64, hash []byte) []byte {
	t.Helper()
	body := fmt.Sprintf("%s\n%d\n%s\n", MustKey(t).Signer.Name(), size, b64(hash))
	b, err := note.Sign(&note.Note{Text: body}, MustKey(t).Signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name string
		// tamper changes the log folder after a first verified run (the
		// state file holds the 700-entry checkpoint); fresh is true when the
		// tampering must be caught without any state too.
		tamper func(t *testing.T, dir string, cp *accesslog.Checkpoint)
		fresh  bool
		want   string
	}{
		{"changed leaf tile", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			flipByte(t, filepath.Join(dir, "tile/0/001"), 40)
		}, true, "tile 0/1: hash 1"},
		{"changed level-1 tile", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			flipByte(t, filepath.Join(dir, "tile/1/000.p/2"), 0)
		}, true, "tile 1/0: hash 0"},
		{"changed entry", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			flipByte(t, filepath.Join(dir, "tile/entries/000"), 30)
		}, true, "entry"},
		{"forked checkpoint", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			other := cp.Hash
			other[5] ^= 0x40
			mustWrite(t, filepath.Join(dir, "checkpoint"), signCheckpoint(t, cp.Size, other[:]))
		}, true, "fork"},
		{"truncated log", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			// Re-sign a checkpoint at 600 entries, its true root, so the
			// shorter log is internally valid: only the state catches it.
			l := accesslog.OpenLog(dir, MustKey(t).Verifier)
			root := rootAt(t, l, 600, cp.Size)
			mustWrite(t, filepath.Join(dir, "checkpoint"), signCheckpoint(t, 600, root))
		}, false, "log truncated"},
		{"missing entry bundle", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			if err := os.Remove(filepath.Join(dir, "tile/entries/001")); err != nil {
				t.Fatal(err)
			}
		}, true, "log truncated"},
		{"foreign key", func(t *testing.T, dir string, cp *accesslog.Checkpoint) {
			_, k, err := accesslog.NewKey(cp.Origin, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, b64(cp.Hash[:]))}, k.Signer)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(dir, "checkpoint"), n)
		}, false, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _, srv := MustLog(t, 700)
			state := filepath.Join(t.TempDir(), "state.json")
			rep, err := verify(t, srv.URL, state)
			if err != nil {
				t.Fatalf("untouched log: %v", err)
			}
			tt.tamper(t, dir, rep.Checkpoint)
			_, err = verify(t, srv.URL, state)
			if !errors.Is(err, accesslog.ErrTampered) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("with state: %v, want ErrTampered naming %q", err, tt.want)
			}
			if tt.fresh {
				_, err = verify(t, srv.URL, "")
				if !errors.Is(err, accesslog.ErrTampered) {
					t.Errorf("without state: %v, want ErrTampered", err)
				}
			}
			// A failed run leaves the state as it was.
			again, err := os.ReadFile(state)
			if err != nil || !strings.Contains(string(again), `"size": 700`) {
				t.Errorf("state changed after a failed run: %s", again)
			}
		})
	}
}

// rootAt is the root of the first n entries, from a consistency proof.
func rootAt(t *testing.T, l *accesslog.Log, n, size uint64) []byte {
	t.Helper()
	ctx := context.Background()
	var leaves [][32]byte
	for i := range n {
		b, err := l.Entry(ctx, i, size)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, accesslog.LeafHash(b))
	}
	return merkleRoot(leaves)
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x01
	mustWrite(t, path, b)
}

// BenchmarkVerify1M verifies a 1,000,000-entry log served by httptest.
// Building the log takes a while and happens once per run.
func BenchmarkVerify1M(b *testing.B) {
	const n = 1_000_000
	start := time.Now()
	_, _, srv := MustLog(b, n)
	b.Logf("built a %d-entry log in %v", n, time.Since(start))
	for b.Loop() {
		rep, err := verify(b, srv.URL, "")
		if err != nil {
			b.Fatal(err)
		}
		if rep.Entries != n {
			b.Fatalf("%d entries", rep.Entries)
		}
	}
}

// TestVerifyStateFile: the state file's folder is created on first use
// (the default is under a config folder that may not exist yet), and an
// error about the state file says so, never that the log is tampered with.
func TestVerifyStateFile(t *testing.T) {
	_, _, srv := MustLog(t, 10)
	state := filepath.Join(t.TempDir(), "new", "folder", "state.json")
	if _, err := verify(t, srv.URL, state); err != nil {
		t.Fatalf("first run into a new folder: %v", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state not saved: %v", err)
	}

	garbled := filepath.Join(t.TempDir(), "state.json")
	mustWrite(t, garbled, []byte("not json"))
	blocked := filepath.Join(t.TempDir(), "file")
	mustWrite(t, blocked, nil)
	for name, path := range map[string]string{
		"Garbled":       garbled,
		"Unreadable":    t.TempDir(),                          // a folder, not a file
		"FolderIsAFile": filepath.Join(blocked, "state.json"), // cannot be created
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verify(t, srv.URL, path)
			if !errors.Is(err, accesslog.ErrState) || errors.Is(err, accesslog.ErrTampered) {
				t.Fatalf("err = %v, want an ErrState that is not ErrTampered", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want it to name %s", err, path)
			}
		})
	}
}

// A log whose key changed since the state was saved (a server started over)
// is refused as tampered, with a KeyChangedError that says the key came from
// the state, for the caller to say which file holds it.
func TestVerifyChangedKey(t *testing.T) {
	_, _, srv := MustLog(t, 10)
	state := filepath.Join(t.TempDir(), "state.json")
	if _, err := verify(t, srv.URL, state); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st accesslog.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	served := st.Key
	_, other, err := accesslog.NewKey(st.Origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Key = other.VerifierKey
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, state, b)
	_, err = verify(t, srv.URL, state)
	var changed *accesslog.KeyChangedError
	if !errors.Is(err, accesslog.ErrTampered) || !errors.As(err, &changed) ||
		*changed != (accesslog.KeyChangedError{Served: served, Trusted: other.VerifierKey, Saved: true}) {
		t.Fatalf("err = %v, want a KeyChangedError from the saved key", err)
	}
	// A key given by the caller is no saved one.
	_, err = accesslog.Verify(t.Context(), accesslog.VerifyConfig{URL: srv.URL, Key: other.VerifierKey})
	if !errors.As(err, &changed) || changed.Saved {
		t.Fatalf("err = %v, want a KeyChangedError from the given key", err)
	}
}
