package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server on a loopback port.
type Server struct {
	tb   testing.TB
	port int // -1 until first started
	srv  *server.Server
}

// Start runs a server on a free port, shut down when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	n := &Server{tb: tb, port: -1}
	n.Restart()
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	tb.Cleanup(n.Stop)
	return n
}

// Restart starts the server again after Stop, on the same port.
func (n *Server) Restart() {
	n.tb.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.tb.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(time.Minute) { // generous: the machine may be busy
		n.tb.Fatal("nats-server did not start within a minute")
	}
	n.srv = srv
}

// Stop shuts the server down, as when NATS goes away.
func (n *Server) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// URL is the server's address for clients.
func (n *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// Clients returns how many clients are connected to the server now (0
// while it is stopped).
func (n *Server) Clients() int {
	if n.srv == nil {
		return 0
	}
	return n.srv.NumClients()
}
