package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// MustOpenDB opens the store's two pools on a new file, closed when tb ends.
func MustOpenDB(tb testing.TB) (writer, reader *sql.DB) {
	tb.Helper()
	w, r, err := sqlite.OpenDB(tb.Context(), filepath.Join(tb.TempDir(), "glasshouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close(); r.Close() })
	return w, r
}

// pragma returns the value of a PRAGMA on one connection, as text.
func pragma(tb testing.TB, conn *sql.Conn, name string) string {
	tb.Helper()
	var v string
	if err := conn.QueryRowContext(tb.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		tb.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestDurabilitySettings checks, on every connection of both pools, the
// settings that make an acknowledged write durable and safe: WAL with
// synchronous=FULL (2) fsyncs every commit, foreign keys are enforced,
// readers cannot write, and a busy database is waited for.
func TestDurabilitySettings(t *testing.T) {
	writer, reader := MustOpenDB(t)
	common := map[string]string{"synchronous": "2", "journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"}
	for _, tt := range []struct {
		name  string
		db    *sql.DB
		conns int
		want  map[string]string
	}{
		{"Writer", writer, 1, map[string]string{"query_only": "0", "wal_autocheckpoint": "0"}},
		{"Readers", reader, reader.Stats().MaxOpenConnections, map[string]string{"query_only": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.db.Stats().MaxOpenConnections; got != tt.conns {
				t.Errorf("pool of %d connections, want %d", got, tt.conns)
			}
			// Hold every connection of the pool at once, so that each is
			// a connection of its own.
			for i := range tt.conns {
				conn, err := tt.db.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				for name, want := range common {
					if got := pragma(t, conn, name); got != want {
						t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, name, got, want)
					}
				}
				for name, want := range tt.want {
					if got := pragma(t, conn, name); got != want {
						t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, name, got, want)
					}
				}
			}
		})
	}
}

func TestReadersCannotWrite(t *testing.T) {
	_, reader := MustOpenDB(t)
	if _, err := reader.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`); err == nil {
		t.Error("a reader connection created a table")
	}
}

// TestOpenPath opens a database in a folder that does not exist yet, with
// characters that mean something in a URI, and finds the file where asked.
func TestOpenPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new folder", "we?ird #name 100%.db")
	s, err := sqlite.Open(t.Context(), path, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustMember(t, s, "alice")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %q, want the database file alone after Close", names)
	}
}

// TestReopen checks that what was acknowledged is there after Close and
// Open, with the schema migrated once.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glasshouse.db")
	s, err := sqlite.Open(t.Context(), path, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
	req, err := s.RequestFriend(t.Context(), alice.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AcceptFriendRequest(t.Context(), bob.ID, req.ID); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateDirect(t.Context(), alice.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	sent, _, err := s.SendMessage(t.Context(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: alice.ID, Text: "still here?"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpenAt(t, path)
	msgs, err := s.MessagesAfter(t.Context(), bob.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != sent.ID || msgs[0].Text != sent.Text {
		t.Errorf("after reopening, bob's messages are %v, want [%v]", msgs, sent)
	}
	// The next message continues the ids and seqs.
	next, _, err := s.SendMessage(t.Context(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: bob.ID, Text: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID <= sent.ID || next.Seq != sent.Seq+1 {
		t.Errorf("next message has id %d, seq %d after id %d, seq %d", next.ID, next.Seq, sent.ID, sent.Seq)
	}
}

// MustOpenAt opens a store on the file at path, closed when tb ends.
func MustOpenAt(tb testing.TB, path string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path, sqlstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestCheckpoints checks that the store moves the write-ahead log into the
// database file by itself, since the writer connection never does.
func TestCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glasshouse.db")
	s := MustOpenAt(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for i := range 200 {
		m := &glasshouse.Member{Handle: fmt.Sprintf("member%03d", i), Email: fmt.Sprintf("m%d@example.org", i),
			DisplayName: strings.Repeat("x", 100)}
		if err := s.CreateMember(context.Background(), m, strings.Repeat("h", 200)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * sqlstore.CheckpointInterval)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: no checkpoint within %v", before, 20*sqlstore.CheckpointInterval)
		}
		time.Sleep(sqlstore.CheckpointInterval / 4)
	}
}

func TestDBStats(t *testing.T) {
	s := MustOpen(t, sqlstore.Config{})
	want := 1 + max(4, 2*runtime.GOMAXPROCS(0))
	if got := s.DBStats().MaxOpenConnections; got != want {
		t.Errorf("DBStats().MaxOpenConnections = %d, want %d (one writer and the readers)", got, want)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Error(err)
	}
}
