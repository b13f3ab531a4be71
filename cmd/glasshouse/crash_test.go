package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
	"golang.org/x/mod/sumdb/note"
)

// TestCrashLog: under concurrent partner load the server is killed with
// SIGKILL three times. After the last restart every response that got a 2xx
// (and its signed receipt) has exactly one entry in the log, no entry is
// there twice, the outbox drains, and the log verifies.
func TestCrashLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	data := t.TempDir()
	cmd, base := startProcess(t, data)
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", data}, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "friends,messages.send", "--purpose", "Share what you watch with a friend", "--retention", "30")
	w := newTestWorld(t, base)
	aliceTok, bobTok := w.member("alice"), w.member("bob")
	w.befriend(aliceTok, bobTok, "bob")
	app := newPartnerApp(t, base, creds.ClientID, creds.ClientSecret, redirect, "friends", "messages.send")
	for _, who := range []string{"bob", "alice"} {
		tok, _ := app.authorize(consentOf(who, who+"-bench-password", nil))
		if who == "alice" {
			aliceTok = tok.AccessToken
		}
	}
	keyText, err := accesslog.NewRemote(base, nil).ReadVerifierKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := accesslog.NewVerifier(keyText)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	receipts := map[accesslog.EventID]*accesslog.Receipt{} // of every 2xx response
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(base string) bool {
		req, _ := http.NewRequest("GET", base+"/graph/v1/me/friends", nil)
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		resp, err := client.Do(req)
		if err != nil {
			return false // the server is gone
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests { // the partner's rate limit: recorded, not a 2xx
			time.Sleep(20 * time.Millisecond)
			return true
		} else if resp.StatusCode/100 != 2 {
			t.Errorf("status %d", resp.StatusCode)
			return false
		}
		r, err := accesslog.VerifyReceipt(resp.Header.Get(accesslog.ReceiptHeader), verifier)
		if err != nil {
			t.Errorf("2xx without a valid receipt: %v", err)
			return false
		}
		mu.Lock()
		receipts[r.EventID] = r
		mu.Unlock()
		return true
	}
	for round := range 3 {
		var wg sync.WaitGroup
		start := len(receipts)
		for range 8 {
			wg.Go(func() {
				for call(base) {
				}
			})
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			n := len(receipts) - start
			mu.Unlock()
			if n >= 150 {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		t.Logf("round %d: %d receipts so far", round, len(receipts))
		cmd, base = startProcess(t, data)
	}

	// Every receipt's entry gets integrated (the outbox drains).
	index := map[accesslog.EventID]uint64{}
	for deadline := time.Now().Add(30 * time.Second); len(index) < len(receipts) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for id := range receipts {
			if _, ok := index[id]; ok {
				continue
			}
			resp, err := client.Get(base + "/log/receipt/" + id.String())
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Status string
				Index  uint64
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == 200 && body.Status == "integrated" {
				index[id] = body.Index
			}
		}
	}
	if len(index) != len(receipts) {
		t.Fatalf("%d of %d receipted entries integrated", len(index), len(receipts))
	}

	// Sequenced entries reach a published checkpoint within seconds.
	cp := mustLogHolds(t, base, client, verifier, receipts, index)
	t.Logf("%d receipts, %d entries (requests in flight at a kill may be logged without a response)", len(receipts), cp.Size)
}

// mustLogHolds waits until a published checkpoint of the log at base
// covers every receipted entry (index: where the receipt endpoint says
// each is), runs `audit verify` on it, and checks that the log holds each
// receipted entry once, at its index, as its receipt says. It returns the
// checkpoint.
func mustLogHolds(t *testing.T, base string, client *http.Client, verifier note.Verifier, receipts map[accesslog.EventID]*accesslog.Receipt, index map[accesslog.EventID]uint64) *accesslog.Checkpoint {
	t.Helper()
	var last uint64
	for _, i := range index {
		last = max(last, i)
	}
	remote := accesslog.NewRemote(base, client)
	var cp *accesslog.Checkpoint
	for end := time.Now().Add(streamDeadline); ; time.Sleep(100 * time.Millisecond) {
		raw, err := remote.ReadCheckpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = accesslog.OpenCheckpoint(raw, verifier); err != nil {
			t.Fatal(err)
		}
		if cp.Size > last {
			break
		} else if time.Now().After(end) {
			t.Fatalf("the checkpoint's size %d does not reach index %d", cp.Size, last)
		}
	}
	if out, err := runCLI(t, "audit", "verify", base, "--state", filepath.Join(t.TempDir(), "state.json")); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	seen := map[accesslog.EventID]uint64{}
	for i := range cp.Size {
		b, err := accesslog.ReadEntry(context.Background(), remote, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		e, err := accesslog.DecodeAny(b) // accesses, and the partners' agreement changes
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		id := e.EventID()
		if j, dup := seen[id]; dup {
			t.Errorf("the log holds event %s twice, at %d and %d", id, j, i)
		}
		seen[id] = i
		if r, ok := receipts[id]; ok {
			if index[id] != i {
				t.Errorf("event %s: the receipt endpoint says index %d, the log has it at %d", id, index[id], i)
			}
			if err := r.Check(b); err != nil {
				t.Errorf("event %s: %v", id, err)
			}
		}
	}
	for id := range receipts {
		if _, ok := seen[id]; !ok {
			t.Errorf("receipted event %s is not in the log", id)
		}
	}
	return cp
}
