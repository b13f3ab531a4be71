package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
)

// TestAuditFreshMachine runs the README's audit command as a newcomer
// would: no --state, and no config folder yet. It verifies, and creates
// the folder for its state.
func TestAuditFreshMachine(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config") // does not exist yet
	t.Setenv("XDG_CONFIG_HOME", config)
	m := MustRunMain(t)
	out, err := runCLI(t, "audit", "report", m.URL(), "--partner", "streamflix")
	if err != nil {
		t.Fatalf("audit report on a fresh machine: %v", err)
	}
	if !strings.Contains(out, "verified log") || !strings.Contains(out, "no access entries for partner streamflix") {
		t.Fatalf("audit report printed %q", out)
	}
	states, _ := filepath.Glob(filepath.Join(config, "glasshouse", "audit-*.json"))
	if len(states) != 1 {
		t.Fatalf("state files: %v", states)
	}
	// The second run checks consistency with the state the first saved.
	if out, err = runCLI(t, "audit", "verify", m.URL()); err != nil || !strings.Contains(out, "consistent with the checkpoint") {
		t.Fatalf("second run: %q, %v", out, err)
	}
}

// TestAuditErrorsSayWhatFailed: only a log that fails verification is
// reported as "NOT verified"; a broken state file or an unreachable server
// says what it is.
func TestAuditErrorsSayWhatFailed(t *testing.T) {
	m := MustRunMain(t)
	garbled := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(garbled, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"GarbledState", []string{"audit", "verify", m.URL(), "--state", garbled}, "audit state file " + garbled},
		{"Unreachable", []string{"audit", "verify", closed, "--state", filepath.Join(t.TempDir(), "s.json")}, "could not check the log"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := cliMessage(err)
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "NOT verified") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line with %q and without NOT verified", msg, tt.want)
			}
		})
	}
}

// TestAuditStartedOver: a server that publishes another key than the one
// verified before is refused by verify and watch alike, naming the state
// file to remove if its log was started over on purpose; once it is gone,
// the new log verifies.
func TestAuditStartedOver(t *testing.T) {
	m := MustRunMain(t)
	dir := t.TempDir()
	_, other, err := accesslog.NewKey("elsewhere", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "watch", "--once"}} {
		t.Run(args[1], func(t *testing.T) {
			state := filepath.Join(dir, args[1]+".json")
			run := func() error {
				_, err := runCLI(t, append(args, m.URL(), "--state", state)...)
				return err
			}
			if err := run(); err != nil {
				t.Fatalf("first run: %v", err)
			}
			// The state now holds another key, as after the server's log
			// was started over with a new one.
			b, err := os.ReadFile(state)
			if err != nil {
				t.Fatal(err)
			}
			var st map[string]any
			if err := json.Unmarshal(b, &st); err != nil || st["key"] == nil {
				t.Fatalf("state %s: %v, %v", b, st, err)
			}
			st["key"] = other.VerifierKey
			if b, err = json.Marshal(st); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(state, b, 0o600); err != nil {
				t.Fatal(err)
			}
			err = run()
			if msg := cliMessage(err); !strings.Contains(msg, "NOT verified") || !strings.Contains(msg, state) || !strings.Contains(msg, "remove that file") {
				t.Fatalf("error %q, want NOT verified, naming %s to remove", msg, state)
			}
			if err := os.Remove(state); err != nil {
				t.Fatal(err)
			}
			if err := run(); err != nil {
				t.Fatalf("after removing the state: %v", err)
			}
		})
	}
}
