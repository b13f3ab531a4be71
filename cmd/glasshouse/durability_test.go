package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// buildBinary builds cmd/glasshouse once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "glasshouse-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "glasshouse")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess runs `glasshouse serve` as a child process on data and
// returns its URL.
func startProcess(tb testing.TB, data string) (*exec.Cmd, string) {
	tb.Helper()
	bin, err := buildBinary()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "glasshouse is running at "); ok {
			go io.Copy(io.Discard, out)
			return cmd, u
		}
	}
	tb.Fatal("server did not start")
	return nil, ""
}

// TestDurabilityKill sends messages from 8 goroutines, kills the server with
// SIGKILL while sends are in flight, restarts it, and finds every message
// that had been acknowledged.
func TestDurabilityKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	data := t.TempDir()
	cmd, url := startProcess(t, data)
	w := newTestWorld(t, url)
	alice, bob := w.member("alice"), w.member("bob")
	w.befriend(alice, bob, "bob")
	var conv glasshouse.Conversation
	w.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "with": "bob"}, &conv)

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				text := fmt.Sprintf("g%d-%d", g, k)
				var m glasshouse.Message
				err := w.c.call(ctx, alice, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), map[string]string{"text": text, "client_txn_id": text}, &m)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[text] = true
				mu.Unlock()
			}
		}()
	}
	// Kill once a good number of sends are acknowledged.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wg.Wait()
	cancel()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 300 {
		t.Fatalf("only %d sends acknowledged before the kill", n)
	}

	_, url = startProcess(t, data)
	w = newTestWorld(t, url)
	var s struct{ Token string }
	w.do("", "POST", "/api/v1/sessions", map[string]string{"handle": "bob", "password": "bob-bench-password"}, &s)
	found := map[string]bool{}
	for before := int64(0); ; {
		var p glasshouse.MessagePage
		path := fmt.Sprintf("/api/v1/conversations/%d/messages?limit=200", conv.ID)
		if before > 0 {
			path += fmt.Sprintf("&before=%d", before)
		}
		w.do(s.Token, "GET", path, nil, &p)
		for _, m := range p.Messages {
			if found[m.Text] {
				t.Fatalf("message %q stored twice", m.Text)
			}
			found[m.Text] = true
		}
		if p.Next == 0 {
			break
		}
		before = p.Next
	}
	for text := range acked {
		if !found[text] {
			t.Errorf("acknowledged message %q lost after SIGKILL", text)
		}
	}
	t.Logf("%d acknowledged, %d stored (sends in flight at the kill may be stored without an ack)", n, len(found))
}
