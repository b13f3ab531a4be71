package web

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Config wires a Server. Store, Hub and SignIn are required; the other
// fields have usable zero values.
type Config struct {
	Store  Store
	Hub    glasshouse.Hub
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	// DBStats reports the database pool for /metrics; nil leaves it out.
	DBStats func() sql.DBStats
	// Registry receives the metrics served on /metrics; nil means a new
	// registry with the Go runtime and process collectors.
	Registry *prometheus.Registry

	// SignIn signs members in and out: sessions, their cookie, login and
	// its limits. Required; share it with the pages and the OAuth login
	// page, so that every door counts failed attempts together.
	SignIn *signin.Service
	// SignupsPerIP limits sign-ups per address; nil means a burst of 100,
	// then one every 36 seconds (100 an hour).
	SignupsPerIP *ratelimit.Limiter
	// Degraded, when set, names what the node runs without at the moment
	// (NATS, say) for /healthz, which then answers "degraded" with 200:
	// such a node still serves correctly, and taking every node out of
	// rotation at once would be worse.
	Degraded func() []string
	// Sessions, when set, carries ended sessions between the nodes of a
	// cluster, so that a sign-out here closes the session's streams on
	// every node at once.
	Sessions glasshouse.SessionBus
	// Buckets, when set, keeps the default limits' buckets there, shared by
	// every node of a cluster (ratelimit.Config.Shared); nil keeps them in
	// this process.
	Buckets ratelimit.Buckets
	// StreamPing is the interval of keep-alive pings on idle streams; zero
	// means 30 seconds.
	StreamPing time.Duration
	// MaxMemberStreams bounds the streams one member may hold open on this
	// node at once (each holds a subscription and a connection); zero means
	// DefaultMaxMemberStreams, negative no limit.
	MaxMemberStreams int
	// AccessLog is the transparency log that GET /api/v1/me/access proves
	// the member's access events against (the feeder's Log); nil leaves
	// that route out.
	AccessLog AccessLog
	// MemberKey returns a member's log tag key (accesslog.Recorder's
	// MemberKey): GET /api/v1/me/access checks with it that each logged
	// entry carries the member's tag, and gives it to the member so they
	// can find their entries in the log themselves. Nil leaves both out.
	MemberKey func(ctx context.Context, memberID int64) (accesslog.MemberKey, error)
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (clientip.Behind): every route on the mux, mounted ones
	// too, then sees the client's address as the request's RemoteAddr, for
	// the limits kept per address. Empty trusts no header.
	TrustedProxies []netip.Prefix
	// Mount registers other packages' routes (the authorization server,
	// the Graph API, the demo apps) on the same mux, so that they share
	// request logging, metrics, panic recovery and cross-origin checks.
	Mount []func(*http.ServeMux)
}

// Server is the HTTP API. Create it with New.
type Server struct {
	store      Store
	hub        glasshouse.Hub
	log        *slog.Logger
	now        func() time.Time
	signIn     *signin.Service
	streamPing time.Duration
	maxStreams int
	signups    *ratelimit.Limiter
	registry   *prometheus.Registry
	accessLog  AccessLog
	memberKey  func(ctx context.Context, memberID int64) (accesslog.MemberKey, error)
	metrics    *metrics
	mux        *http.ServeMux
	handler    http.Handler

	mu      sync.Mutex // guards stopped, live and streams.Add
	stopped bool
	closing chan struct{} // closed by CloseStreams
	streams sync.WaitGroup
	live    map[*liveStream]struct{}

	sessions glasshouse.SessionBus // nil on a single node
	degraded func() []string
}

// New returns a Server on the given store and hub.
func New(c Config) *Server {
	if c.Store == nil || c.Hub == nil || c.SignIn == nil {
		panic("web: Config.Store, Hub and SignIn are required")
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
	if c.StreamPing <= 0 {
		c.StreamPing = 30 * time.Second
	}
	if c.MaxMemberStreams == 0 {
		c.MaxMemberStreams = DefaultMaxMemberStreams
	}
	if c.SignupsPerIP == nil {
		c.SignupsPerIP = ratelimit.New(ratelimit.Config{Every: 36 * time.Second, Burst: 100, Now: c.Now, Shared: c.Buckets, Name: "signup-ip"})
	}
	s := &Server{
		store:      c.Store,
		hub:        c.Hub,
		log:        c.Logger,
		now:        c.Now,
		signIn:     c.SignIn,
		streamPing: c.StreamPing,
		maxStreams: c.MaxMemberStreams,
		signups:    c.SignupsPerIP,
		registry:   c.Registry,
		accessLog:  c.AccessLog,
		memberKey:  c.MemberKey,
		metrics:    newMetrics(c.Registry, c.DBStats),
		closing:    make(chan struct{}),
		live:       map[*liveStream]struct{}{},
		sessions:   c.Sessions,
		degraded:   c.Degraded,
	}
	if s.sessions != nil {
		s.sessions.OnSessionsEnded(s.endStreams)
	}
	s.mux = s.routes()
	for _, mount := range c.Mount {
		mount(s.mux)
	}
	s.handler = clientip.Behind(c.TrustedProxies, s.logRequests(s.recoverPanics(s.rejectCrossOrigin(s.mux))))
	return s
}

// Mount registers more routes, like Config.Mount, for packages that need
// the Server itself (the member pages sign in through it). Call it before
// serving.
func (s *Server) Mount(mount func(*http.ServeMux)) { mount(s.mux) }

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
// DefaultMaxMemberStreams is how many streams one member may hold open on
// a node unless configured: a browser tab each, with room to spare.
const DefaultMaxMemberStreams = 32

// startStream registers a stream, or refuses it: EUNAVAILABLE once
// CloseStreams was called, ERATELIMITED when its member already holds the
// most streams allowed.
func (s *Server) startStream(l *liveStream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The server is shutting down.")
	}
	if s.maxStreams > 0 {
		n := 0
		for o := range s.live {
			if o.memberID == l.memberID {
				n++
			}
		}
		if n >= s.maxStreams {
			return &httpio.RetryError{After: 30 * time.Second,
				Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "You have %d streams open already; close one first.", n)}
		}
	}
	s.streams.Add(1)
	s.live[l] = struct{}{}
	return nil
}

// stopStream unregisters a stream that startStream registered.
func (s *Server) stopStream(l *liveStream) {
	s.mu.Lock()
	delete(s.live, l)
	s.mu.Unlock()
	s.streams.Done()
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
