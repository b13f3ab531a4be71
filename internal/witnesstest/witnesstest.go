package witnesstest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/note"

	"github.com/glasshouse/glasshouse/internal/testbin"
)

// Witness is a litewitness process on a loopback port.
type Witness struct {
	// Name is the witness's name, the one its cosignature lines carry;
	// VerifierKey its cosignature/v1 verifier key in note form.
	Name        string
	VerifierKey string

	tb          testing.TB
	bin, ctl    string
	dir, db     string
	sock        string // the ssh-agent's socket
	fingerprint string // of the witness key, SHA256:...
	port        int
	agent, cmd  *exec.Cmd
	done        chan struct{}
	stderr      *bytes.Buffer
}

// Start runs a witness named name (URL-like, e.g. "witness.test/w1") on a
// free port, with a fresh key and database, stopped when tb ends.
func Start(tb testing.TB, name string) *Witness {
	tb.Helper()
	w := &Witness{tb: tb, Name: name, dir: tb.TempDir(), port: testbin.FreePort(tb)}
	w.bin = goTool(tb, "litewitness", "GLASSHOUSE_LITEWITNESS")
	w.ctl = goTool(tb, "witnessctl", "GLASSHOUSE_WITNESSCTL")
	agent := testbin.Require(tb, "ssh-agent", "GLASSHOUSE_SSH_AGENT", "openssh-client")
	keygen := testbin.Require(tb, "ssh-keygen", "GLASSHOUSE_SSH_KEYGEN", "openssh-client")
	add := testbin.Require(tb, "ssh-add", "GLASSHOUSE_SSH_ADD", "openssh-client")
	w.db = filepath.Join(w.dir, "litewitness.db")

	// The key, in an ssh-agent of its own. A socket path must be short
	// (108 bytes), which a test's temporary folder may not be.
	key := filepath.Join(w.dir, "witness-key")
	run(tb, exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "witnesstest", "-f", key))
	sockDir, err := os.MkdirTemp("", "wt")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(sockDir) })
	w.sock = filepath.Join(sockDir, "agent.sock")
	w.agent = exec.Command(agent, "-D", "-a", w.sock)
	if err := w.agent.Start(); err != nil {
		tb.Fatalf("witnesstest: start ssh-agent: %v", err)
	}
	agentDone := make(chan struct{})
	go func() { w.agent.Wait(); close(agentDone) }()
	tb.Cleanup(func() { w.agent.Process.Kill(); <-agentDone })
	waitFor(tb, "ssh-agent", func() bool { _, err := os.Stat(w.sock); return err == nil }, agentDone)
	addCmd := exec.Command(add, key)
	addCmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+w.sock)
	run(tb, addCmd)

	pubText, err := os.ReadFile(key + ".pub")
	if err != nil {
		tb.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		tb.Fatalf("witnesstest: %v", err)
	}
	w.fingerprint = ssh.FingerprintSHA256(pub)
	raw := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, raw)
	if err != nil {
		tb.Fatal(err)
	}
	if w.VerifierKey, err = fnote.VKeyToCosignatureV1(vkey); err != nil {
		tb.Fatal(err)
	}
	w.Restart()
	tb.Cleanup(func() {
		w.Stop()
		if tb.Failed() {
			tb.Logf("litewitness %s's log:\n%s", name, w.stderr)
		}
	})
	return w
}

// goTool returns the path of a program go.mod pins with a tool line, built
// by `go tool -n` (or $env's), skipping, or failing under CI, without it.
func goTool(tb testing.TB, name, env string) string {
	tb.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	out, err := exec.Command("go", "tool", "-n", name).Output()
	if err != nil {
		msg := fmt.Sprintf("witnesstest: cannot build %s with `go tool -n %s` (go.mod pins it): %v", name, name, err)
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return strings.TrimSpace(string(out))
}

func run(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("witnesstest: %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

func waitFor(tb testing.TB, what string, ok func() bool, exited <-chan struct{}) {
	tb.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(20 * time.Millisecond) { // generous: the machine may be busy
		select {
		case <-exited:
			tb.Fatalf("witnesstest: %s exited at start", what)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("witnesstest: %s not ready after a minute", what)
		}
	}
}

// AddLog tells the witness about a log: its origin, starting at size 0,
// and its verifier key (note form), as the witness's operator does with
// witnessctl (which works while litewitness runs).
func (w *Witness) AddLog(origin, verifierKey string) {
	w.tb.Helper()
	run(w.tb, exec.Command(w.ctl, "add-log", "-db", w.db, "-origin", origin))
	run(w.tb, exec.Command(w.ctl, "add-key", "-db", w.db, "-origin", origin, "-key", verifierKey))
}

// URL is the witness's tlog-witness base URL.
func (w *Witness) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", w.port) }

// Flag returns the witness as --witness takes it: "LABEL VKEY URL".
func (w *Witness) Flag(label string) string {
	return label + " " + w.VerifierKey + " " + w.URL()
}

// Restart starts the witness again after Stop, on the same port and
// database, and returns once it accepts connections.
func (w *Witness) Restart() {
	w.tb.Helper()
	if w.cmd != nil {
		return
	}
	if w.stderr == nil {
		w.stderr = new(bytes.Buffer)
	}
	w.cmd = exec.Command(w.bin, "-name", w.Name, "-db", w.db, "-ssh-agent", w.sock, "-key", w.fingerprint,
		"-listen", fmt.Sprintf("127.0.0.1:%d", w.port))
	w.cmd.Stderr = w.stderr
	if err := w.cmd.Start(); err != nil {
		w.tb.Fatalf("witnesstest: start %s: %v", w.bin, err)
	}
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	w.done = done
	waitFor(w.tb, "litewitness", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", w.port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, done)
}

// Stop stops the witness, as when it goes down, and waits until it has
// exited.
func (w *Witness) Stop() {
	if w.cmd == nil {
		return
	}
	w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
	}
	w.cmd = nil
}
