package web

import (
	"database/sql"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Config wires a Server. Store and Hub are required; the other fields have
// usable zero values.
type Config struct {
	Store  glasshouse.Store
	Hub    glasshouse.Hub
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	// DBStats reports the database pool for /metrics; nil leaves it out.
	DBStats func() sql.DBStats
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests (set it behind a TLS-terminating proxy).
	SecureCookies bool
	// Registry receives the metrics served on /metrics; nil means a new
	// registry with the Go runtime and process collectors.
	Registry *prometheus.Registry

	// SessionTTL is how long a login lasts; zero means 30 days.
	SessionTTL time.Duration
	// LoginPerAccount and LoginPerIP limit failed password attempts (Now
	// is filled in from Now). Zero values mean a burst of 10 then one a
	// minute per account, and a burst of 30 then one every 10 seconds per
	// IP address.
	LoginPerAccount, LoginPerIP ratelimit.Config
	// StreamPing is the interval of keep-alive pings on idle streams; zero
	// means 30 seconds.
	StreamPing time.Duration
	// Mount registers other packages' routes (the authorization server,
	// the Graph API, the demo apps) on the same mux, so that they share
	// request logging, metrics, panic recovery and cross-origin checks.
	Mount []func(*http.ServeMux)
}

// Server is the HTTP API. Create it with New.
type Server struct {
	store         glasshouse.Store
	hub           glasshouse.Hub
	log           *slog.Logger
	now           func() time.Time
	secureCookies bool
	sessionTTL    time.Duration
	streamPing    time.Duration
	byAccount     *ratelimit.Limiter
	byIP          *ratelimit.Limiter
	registry      *prometheus.Registry
	metrics       *metrics
	handler       http.Handler

	mu      sync.Mutex // guards stopped and streams.Add
	stopped bool
	closing chan struct{} // closed by CloseStreams
	streams sync.WaitGroup
}

// New returns a Server on the given store and hub.
func New(c Config) *Server {
	if c.Store == nil || c.Hub == nil {
		panic("web: Config.Store and Config.Hub are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
		c.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 30 * 24 * time.Hour
	}
	if c.StreamPing <= 0 {
		c.StreamPing = 30 * time.Second
	}
	limiter := func(lc ratelimit.Config, every time.Duration, burst int) *ratelimit.Limiter {
		if lc.Every <= 0 || lc.Burst <= 0 {
			lc.Every, lc.Burst = every, burst
		}
		if lc.Now == nil {
			lc.Now = c.Now
		}
		return ratelimit.New(lc)
	}
	s := &Server{
		store:         c.Store,
		hub:           c.Hub,
		log:           c.Logger,
		now:           c.Now,
		secureCookies: c.SecureCookies,
		sessionTTL:    c.SessionTTL,
		streamPing:    c.StreamPing,
		byAccount:     limiter(c.LoginPerAccount, time.Minute, 10),
		byIP:          limiter(c.LoginPerIP, 10*time.Second, 30),
		registry:      c.Registry,
		metrics:       newMetrics(c.Registry, c.DBStats),
		closing:       make(chan struct{}),
	}
	mux := s.routes()
	for _, mount := range c.Mount {
		mount(mux)
	}
	s.handler = s.logRequests(s.recoverPanics(s.rejectCrossOrigin(mux)))
	return s
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// CloseStreams ends every open stream (WebSocket close 1001, end of the
// SSE response), refuses new ones with 503, and returns once all stream
// handlers have returned. http.Server.Shutdown does not wait for hijacked
// WebSocket connections and would wait forever for SSE responses, so call
// it when shutting down, for example with http.Server.RegisterOnShutdown.
// It is safe to call more than once.
func (s *Server) CloseStreams() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.closing)
	}
	s.mu.Unlock()
	s.streams.Wait()
}

// startStream registers a stream; false once CloseStreams was called.
func (s *Server) startStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.streams.Add(1)
	return true
}

// isStopping reports whether CloseStreams was called.
func (s *Server) isStopping() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
