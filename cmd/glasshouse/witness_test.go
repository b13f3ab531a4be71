package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/witnesstest"
)

// TestServeWitnessFlags: --witness is repeatable, GLASSHOUSE_WITNESS holds
// several separated by ';', and a bad witness or quorum is refused.
func TestServeWitnessFlags(t *testing.T) {
	key := func(name string) string {
		_, vkey, err := note.GenerateKey(nil, name)
		if err != nil {
			t.Fatal(err)
		}
		if vkey, err = fnote.VKeyToCosignatureV1(vkey); err != nil {
			t.Fatal(err)
		}
		return vkey
	}
	a := "a " + key("witness.test/a") + " https://a.witness.test"
	b := "b " + key("witness.test/b") + " http://127.0.0.1:7380"
	m := NewMain()
	if err := m.ParseFlags("serve", []string{"--witness", a, "--witness", b, "--witness-quorum", "1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(m.Config.Witnesses) != 2 || m.Config.Witnesses[1] != b || m.Config.WitnessQuorum != 1 {
		t.Fatalf("config %q, quorum %d", m.Config.Witnesses, m.Config.WitnessQuorum)
	}
	t.Setenv("GLASSHOUSE_WITNESS", a+"; "+b)
	m = NewMain()
	if err := m.ParseFlags("serve", nil, io.Discard); err != nil || len(m.Config.Witnesses) != 2 {
		t.Fatalf("from the environment: %q, %v", m.Config.Witnesses, err)
	}
	t.Setenv("GLASSHOUSE_WITNESS", "")
	if err := NewMain().ParseFlags("serve", []string{"--witness", "a not-a-key"}, io.Discard); err == nil {
		t.Error("a bad --witness was accepted")
	}
	m = NewMain()
	m.Config.Data, m.Config.Addr, m.Stdout = t.TempDir(), "127.0.0.1:0", io.Discard
	m.Config.Witnesses, m.Config.WitnessQuorum = []string{a}, 2
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--witness") {
		t.Errorf("a quorum above the witnesses: %v", err)
	}
	m.Close()
}

// TestServeWitnessed runs the server with a real witness (litewitness, as
// its own process): the checkpoint served at /log/checkpoint is cosigned
// and passes the witness policy; while the witness is down the server
// goes on answering and recording, keeps serving the last cosigned
// checkpoint and says so in /metrics; when it is back, the new entries
// get a cosigned checkpoint.
func TestServeWitnessed(t *testing.T) {
	w := witnesstest.Start(t, "witness.test/lw")
	m := mustStartNode(t, t.TempDir(), "", "", func(c *Config) { c.Witnesses = []string{w.Flag("lw")} })
	w.AddLog(m.logKey.Verifier.Name(), m.logKey.VerifierKey)
	policy, err := accesslog.ParseWitnessPolicy([]string{w.Flag("lw")}, 1)
	if err != nil {
		t.Fatal(err)
	}

	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "profile", "--assessed", "2026-09-01", "--purpose", "Greet the member by name", "--retention", "30")
	newTestWorld(t, m.URL()).member("alice")
	app := newPartnerApp(t, m.URL(), creds.ClientID, creds.ClientSecret, redirect, "profile")
	tok, _ := app.authorize(consentOf("alice", "alice-bench-password", []string{"profile"}))
	access := func(n int) {
		t.Helper()
		for range n {
			if status, body := app.graph(tok, "GET", "/graph/v1/me", nil, nil); status != http.StatusOK {
				t.Fatalf("GET /graph/v1/me: %d %s", status, body)
			}
		}
	}
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	// cosigned waits until /log/checkpoint covers the whole log with the
	// witness's cosignature.
	cosigned := func() []byte {
		t.Helper()
		var raw []byte
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			size, err := m.Feeder.IntegratedSize(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			raw = get("/log/checkpoint")
			if cp, err := policy.Open(raw, m.logKey.Verifier); err == nil && cp.Size == size && size > 0 {
				return raw
			}
		}
		t.Fatalf("no cosigned checkpoint of the whole log within a minute; served:\n%s", raw)
		return nil
	}
	metric := func(line string) bool { return bytes.Contains(get("/metrics"), []byte("\n"+line+"\n")) }

	access(3)
	raw := cosigned()
	if !bytes.Contains(raw, []byte("\n— witness.test/lw ")) {
		t.Fatalf("served checkpoint without the witness's line:\n%s", raw)
	}
	if !metric("glasshouse_log_witness_quorum_met 1") || !metric(`glasshouse_log_witness_up{witness="lw"} 1`) {
		t.Errorf("metrics while the witness cosigns:\n%s", get("/metrics"))
	}

	// The witness goes down: requests are still answered and recorded,
	// and the last cosigned checkpoint stays served.
	w.Stop()
	access(3)
	for deadline := time.Now().Add(time.Minute); !metric("glasshouse_log_witness_quorum_met 0"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics do not show the lost quorum within a minute:\n%s", get("/metrics"))
		}
	}
	if !metric(`glasshouse_log_witness_up{witness="lw"} 0`) {
		t.Errorf("glasshouse_log_witness_up while the witness is down:\n%s", get("/metrics"))
	}
	if served := get("/log/checkpoint"); !bytes.Equal(served, raw) {
		t.Fatalf("the served checkpoint changed while the witness was down:\n%s", served)
	}

	// Back: the new entries get their cosigned checkpoint.
	w.Restart()
	if again := cosigned(); bytes.Equal(again, raw) {
		t.Fatal("no new checkpoint after the witness came back")
	}
	if !metric("glasshouse_log_witness_quorum_met 1") {
		t.Errorf("metrics after the witness came back:\n%s", get("/metrics"))
	}
}
