package natstest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/testbin"
)

// Server is a nats-server process on a loopback port.
type Server struct {
	tb          testing.TB
	bin         string
	port, mport int // client and monitoring ports
	cmd         *exec.Cmd
	done        chan struct{}
}

// Start runs a server on a free port, stopped when tb ends. It skips the
// test when nats-server is missing, or fails it under CI (testbin.Require).
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := testbin.Require(tb, "nats-server", "GLASSHOUSE_NATS_SERVER", "nats-server")
	n := &Server{tb: tb, bin: bin, port: testbin.FreePort(tb), mport: testbin.FreePort(tb)}
	n.Restart()
	tb.Cleanup(n.Stop)
	return n
}

// Restart starts the server again after Stop, on the same port, and
// returns once it accepts clients.
func (n *Server) Restart() {
	n.tb.Helper()
	n.cmd = exec.Command(n.bin, "-a", "127.0.0.1", "-p", fmt.Sprint(n.port), "-m", fmt.Sprint(n.mport))
	if err := n.cmd.Start(); err != nil {
		n.tb.Fatalf("natstest: start %s: %v", n.bin, err)
	}
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	n.done = done
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) { // generous: the machine may be busy
		select {
		case <-done:
			n.tb.Fatalf("natstest: nats-server exited at start (%v)", n.cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("tcp", n.addr(), time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatal("natstest: nats-server does not listen after a minute")
		}
	}
}

// Stop stops the server, as when NATS goes away, and waits until it has
// exited.
func (n *Server) Stop() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// URL is the server's address for clients.
func (n *Server) URL() string { return "nats://" + n.addr() }

func (n *Server) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// Clients returns how many clients are connected now, from the server's
// monitoring endpoint (0 while it is stopped).
func (n *Server) Clients() int {
	if n.cmd == nil {
		return 0
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", n.mport))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v struct {
		Connections int `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0
	}
	return v.Connections
}
