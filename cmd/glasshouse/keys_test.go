package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/natstest"
)

// TestClusterKeyFiles runs two nodes with data folders of their own that
// share what a cluster must share: the storage key and the log key as
// files (--storage-key-file, --log-key-file) and one log folder
// (--log-dir). Both serve the same log; a node given another key of
// either kind, which it would otherwise make for itself, is refused at
// start and told which flag to fix.
func TestClusterKeyFiles(t *testing.T) {
	db := clusterPostgres(t)
	natsURL := natstest.Start(t).URL()
	keys, logDir := t.TempDir(), t.TempDir()
	shared := func(c *Config) {
		c.StorageKeyFile, c.LogKeyFile, c.LogDir = filepath.Join(keys, "storage.key"), filepath.Join(keys, "log.key"), logDir
	}
	node := func(adjust func(*Config)) (*Main, error) {
		m, err := startNode(t.TempDir(), db, natsURL, adjust)
		if err == nil {
			t.Cleanup(func() { m.Close() })
		}
		return m, err
	}
	a, err := node(shared)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"storage.key", "log.key"} {
		if _, err := os.Stat(filepath.Join(keys, f)); err != nil {
			t.Fatalf("the first node did not create %s: %v", f, err)
		}
	}
	b, err := node(shared)
	if err != nil {
		t.Fatal(err)
	}
	// One log: both nodes serve the checkpoint the feeder wrote.
	checkpoint := func(m *Main) string {
		resp, err := http.Get(m.URL() + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s/log/checkpoint: %s %s", m.URL(), resp.Status, body)
		}
		return string(body)
	}
	for end := time.Now().Add(streamDeadline); checkpoint(a) != checkpoint(b); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the nodes serve two checkpoints:\n%s\n%s", checkpoint(a), checkpoint(b))
		}
	}

	for _, tc := range []struct {
		name, want string
		adjust     func(*Config)
	}{
		{"own log key", "--log-key-file", func(c *Config) { shared(c); c.LogKeyFile = "" }},
		{"own storage key", "--storage-key-file", func(c *Config) { shared(c); c.StorageKeyFile = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := node(tc.adjust)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("a node with its %s started or failed with %v; want an error naming %s", tc.name, err, tc.want)
			}
		})
	}
}
