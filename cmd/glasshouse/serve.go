package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"github.com/glasshouse/glasshouse"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/export"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/internal/atomicfile"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/messenger"
	"github.com/glasshouse/glasshouse/ui/portal"
	"github.com/glasshouse/glasshouse/ui/privacy"
	"github.com/glasshouse/glasshouse/ui/transparency"
	"github.com/glasshouse/glasshouse/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/klog/v2"
)

// Config is what `serve` and `demo` are told by flags and the environment.
type Config struct {
	Addr      string // listen address; port 0 picks a free port
	Data      string // data folder
	DB        string // "sqlite:PATH" or a postgres:// URL; empty means sqlite under Data
	LogFormat string // text or json
	LogLevel  string // debug, info, warn, error
	Secure    bool   // mark cookies Secure (behind a TLS-terminating proxy)
	DebugAddr string // if set, serve net/http/pprof here (keep it on loopback)
	// TrustedProxies lists the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For names the client, for the limits per address.
	TrustedProxies string
	Ceiling        string        // comma-separated data scopes any partner may use at all
	PublicURL      string        // the origin partners and browsers reach us at; default from the listener
	MaxStreams     int           // open streams one member may hold on a node; 0 or less: no limit
	StreamPing     time.Duration // keep-alive interval of idle streams, which also re-checks their session
	PartnerRate    float64       // Graph API requests a partner may make per second, after PartnerBurst
	PartnerBurst   int
	NATS           string // NATS URL that the nodes of a cluster share their events through; empty: one node
	// StorageKeyFile, LogKeyFile and LogDir place the deployment's two
	// keys and the transparency log's folder elsewhere than the data
	// folder (empty: there), as the nodes of a cluster need: every node
	// the same keys, one log folder on storage they all mount.
	StorageKeyFile string
	LogKeyFile     string
	LogDir         string
	// Witnesses cosign the log's checkpoints ("NAME VKEY URL" each, see
	// accesslog.ParseWitness); WitnessQuorum of them must (0: all).
	Witnesses     []string
	WitnessQuorum int
	Demo          bool // seed the demo world
}

// Main is the running program: tests start it for real on port 0.
type Main struct {
	Config Config
	Stdout io.Writer
	Logger *slog.Logger

	Store    *sqlstore.Store
	Hub      Hub
	OAuth    *oauth.Server
	Graph    *graph.API
	Log      *accesslog.Log    // the transparency log, as this node reads and serves it
	Feeder   *accesslog.Feeder // the log's one writer, if this node took the feeder lock at start
	Recorder *accesslog.Recorder
	logKey   *accesslog.Key
	// Witnesses watches the log's witnesses (nil without --witness).
	Witnesses *accesslog.WitnessMonitor
	registry  *prometheus.Registry             // what /metrics serves
	feeder    atomic.Pointer[accesslog.Feeder] // the feeder this node runs now, if any
	Web       *web.Server
	HTTP      *http.Server
	ln        net.Listener
	done      chan error
	debug     *http.Server

	nodeLock      *sqlstore.NodeLock // this node's hold on the deployment's node lock
	stopNodeCheck func()

	stopFeeder func()
	feederDone chan error
	stopPurge  func()
}

var klogOnce sync.Once

// NewMain returns a Main with the documented defaults.
func NewMain() *Main {
	return &Main{
		Config: Config{Addr: "127.0.0.1:8080", Data: "./glasshouse-data", LogFormat: "text", LogLevel: "info",
			Ceiling: strings.Join(glasshouse.DataScopes, ","), MaxStreams: web.DefaultMaxMemberStreams,
			StreamPing: 30 * time.Second, PartnerRate: 50, PartnerBurst: 100},
		Stdout: os.Stdout,
	}
}

// ParseFlags reads cmd's flags from args, after the GLASSHOUSE_* environment.
func (m *Main) ParseFlags(cmd string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("glasshouse "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &m.Config
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (host:port)")
	fs.StringVar(&c.Data, "data", c.Data, "data folder")
	fs.StringVar(&c.DB, "db", c.DB, "database: sqlite:PATH or a postgres:// URL (default sqlite under --data)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.BoolVar(&c.Secure, "secure-cookies", c.Secure, "mark session cookies Secure (set when served over HTTPS)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "the origin partners and browsers reach this server at, e.g. https://glasshouse.example (default http://ADDR); it is the OpenID issuer")
	fs.StringVar(&c.Ceiling, "ceiling", c.Ceiling, "platform ceiling: the comma-separated data scopes any partner agreement may use")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "serve Go profiles (net/http/pprof) on this address; keep it on loopback (default off)")
	fs.IntVar(&c.MaxStreams, "max-streams-per-member", c.MaxStreams, "open real-time streams one member may hold on this node (0 or less: no limit)")
	fs.DurationVar(&c.StreamPing, "stream-ping", c.StreamPing, "keep-alive interval of idle streams (keep it below the idle timeout of any proxy in front); each ping also re-checks the stream's session")
	fs.Float64Var(&c.PartnerRate, "partner-rate", c.PartnerRate, "Graph API requests each partner may make per second, once its burst is spent (over all nodes of a cluster)")
	fs.IntVar(&c.PartnerBurst, "partner-burst", c.PartnerBurst, "Graph API requests each partner may make at once")
	fs.StringVar(&c.NATS, "nats", c.NATS, "`URL` of the NATS server(s) through which the nodes sharing a PostgreSQL database deliver each other's messages to their streams, e.g. nats://10.0.0.5:4222 (default none: a single node)")
	fs.StringVar(&c.StorageKeyFile, "storage-key-file", c.StorageKeyFile, "`FILE` holding the key that encrypts the members' message keys, created on first start if missing; every node of a cluster needs the same (default DATA/storage.key)")
	fs.StringVar(&c.LogKeyFile, "log-key-file", c.LogKeyFile, "`FILE` holding the transparency log's private signing key, created on first start if missing; every node of a cluster needs the same (default DATA/log-key.private)")
	fs.StringVar(&c.LogDir, "log-dir", c.LogDir, "`FOLDER` of the transparency log's tiles and checkpoint; the nodes of a cluster share one, on storage they all mount (default DATA/log)")
	fs.Var((*witnessList)(&c.Witnesses), "witness", "a witness that cosigns the log's checkpoints, as `'NAME VKEY URL'`: a label, its cosignature/v1 verifier key in note form and its tlog-witness URL (repeatable; several in one value or in GLASSHOUSE_WITNESS separated by ';' or new lines)")
	fs.IntVar(&c.WitnessQuorum, "witness-quorum", c.WitnessQuorum, "how many of the --witness witnesses must cosign a checkpoint before it is served (default all)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client (default none)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: glasshouse %s [flags]\n\n", cmd)
		if cmd == "demo" {
			fmt.Fprint(stderr, "Seeds the demo members, friendships and conversations once, then serves.\n\n")
		} else {
			fmt.Fprint(stderr, "Serves the platform.\n\n")
		}
		fmt.Fprint(stderr, "Flags (each also read from GLASSHOUSE_<NAME>, e.g. GLASSHOUSE_ADDR):\n")
		fs.PrintDefaults()
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Demo = cmd == "demo"
	return nil
}

// Run builds the server, in the order below, and starts serving in the
// background. Close stops it.
func (m *Main) Run(ctx context.Context) error {
	logger, err := newLogger(m.Config.LogFormat, m.Config.LogLevel)
	if err != nil {
		return err
	}
	m.Logger = logger
	// Tessera logs through klog, whose logger is global: set once, so that
	// a second Main in one process (a test's second node) does not swap it
	// under the first one's feeder.
	klogOnce.Do(func() { klog.SetSlogLogger(logger.With("component", "tessera")) })
	proxies, err := clientip.ParsePrefixes(m.Config.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %v", err)
	}
	ceiling := splitList(m.Config.Ceiling)
	if err := glasshouse.ValidateScopes(ceiling); err != nil {
		return fmt.Errorf("--ceiling: %s", glasshouse.ErrorMessage(err))
	}
	if m.Config.PartnerRate <= 0 || m.Config.PartnerBurst <= 0 {
		return fmt.Errorf("--partner-rate and --partner-burst must be positive, not %v and %d", m.Config.PartnerRate, m.Config.PartnerBurst)
	}
	if m.Config.StreamPing <= 0 {
		return fmt.Errorf("--stream-ping must be positive, not %v", m.Config.StreamPing)
	}

	// The store, fed to the realtime hub (through NATS with --nats, see
	// cluster.go), and the listener: the issuer is the URL partners reach
	// us at, so it must be known before the authorization server is built.
	witnesses, err := accesslog.ParseWitnessPolicy(m.Config.Witnesses, m.Config.WitnessQuorum)
	if err != nil {
		return fmt.Errorf("--witness: %v", err)
	}
	for _, w := range witnessesOf(witnesses) {
		if w.URL == "" {
			return fmt.Errorf("--witness %s: give the witness's URL, to submit checkpoints to", w.Name)
		}
	}
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if witnesses != nil {
		m.Witnesses = accesslog.NewWitnessMonitor(witnesses, logger)
		m.registry.MustRegister(m.Witnesses)
	}

	m.Hub = m.newHub(logger)
	if m.Store, err = openStore(ctx, m.location(), m.Hub); err != nil {
		return err
	}
	if err := m.joinCluster(ctx, logger); err != nil {
		return err
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	// The transparency log: key, feeder, recorder, routes.
	lg, err := m.openAccessLog(ctx, logger, witnesses)
	if err != nil {
		return err
	}
	m.Log, m.logKey, m.Recorder = lg.log, lg.key, lg.recorder

	// Sign-in, shared by every door that checks passwords (the member API
	// and pages, the OAuth login page, the privacy center's deletion form),
	// which count failed attempts together; its key also signs the
	// partners' portal sessions.
	uiKey, err := m.secret(ctx, "ui-key", 32)
	if err != nil {
		return fmt.Errorf("pages: key: %w", err)
	}
	buckets, sessions := m.limitBuckets(), m.sessionBus()
	perAccount, perIP := signin.NewLoginLimiters(nil, buckets)
	signIn := signin.New(signin.Config{Store: m.Store, Key: uiKey, SecureCookies: m.Config.Secure, PerAccount: perAccount, PerIP: perIP})
	kit := ui.New(ui.Config{Store: m.Store, SignIn: signIn, IsOperator: m.Store.IsOperator, Logger: logger})

	// The partner platform: the authorization server and the Graph API.
	m.OAuth, err = oauth.New(oauth.Config{
		Issuer:     m.URL(),
		Store:      m.Store,
		Buckets:    buckets,
		Logger:     logger,
		Ceiling:    ceiling,
		SignIn:     signIn,
		Stylesheet: kit.AssetURL("style.css"),
		AccessCount: func(ctx context.Context, partnerID int64) (int64, error) {
			t, err := m.Store.PartnerAccessTotals(ctx, partnerID)
			return t.All(), err
		},
	})
	if err != nil {
		return fmt.Errorf("authorization server: %w", err)
	}
	m.Graph, err = graph.New(graph.Config{Store: m.Store, Verifier: m.OAuth, Recorder: m.Recorder, Ceiling: ceiling, Logger: logger,
		RateLimit: ratelimit.Config{Every: time.Duration(float64(time.Second) / m.Config.PartnerRate), Burst: m.Config.PartnerBurst, Shared: buckets}})
	if err != nil {
		return fmt.Errorf("graph api: %w", err)
	}
	mounts := []func(*http.ServeMux){m.OAuth.Register, m.Graph.Register, lg.routes}
	if m.Config.Demo {
		demoApps, err := startDemo(ctx, m, logger)
		if err != nil {
			return err
		}
		mounts = append(mounts, demoApps...)
	}

	// The member API, which every other part mounts on, then the pages.
	m.Web = web.New(web.Config{
		Store:            m.Store,
		Hub:              m.Hub,
		Logger:           logger,
		DBStats:          m.Store.DBStats,
		Registry:         m.registry,
		SignIn:           signIn,
		Mount:            mounts,
		AccessLog:        m.Log,
		MemberKey:        m.Recorder.MemberKey,
		TrustedProxies:   proxies,
		MaxMemberStreams: streamLimit(m.Config.MaxStreams),
		StreamPing:       m.Config.StreamPing,
		Buckets:          buckets,
		Sessions:         sessions,
		Degraded:         m.degraded,
	})
	m.mountPages(kit, uiKey, perAccount, buckets, logger, witnesses)

	// Serve.
	m.HTTP = &http.Server{
		Handler:           m.Web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // streams clear their own deadlines
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Streams never go idle, so Shutdown would wait for them: close them as
	// soon as shutdown starts, while in-flight requests finish.
	m.HTTP.RegisterOnShutdown(m.Web.CloseStreams)
	m.done = make(chan error, 1)
	go func() { m.done <- m.HTTP.Serve(m.ln) }()
	m.stopPurge = m.purgeEvery(10 * time.Minute)
	if m.Config.DebugAddr != "" {
		if err := m.serveDebug(); err != nil {
			return err
		}
	}
	logger.Info("serving", "url", m.URL(), "db", dbKind(m.Config.DB))
	fmt.Fprintf(m.Stdout, "glasshouse is running at %s\n", m.URL())
	return nil
}

// secret returns the store secret name, of size random bytes when it is
// first made (every node of a deployment gets the same one).
func (m *Main) secret(ctx context.Context, name string, size int) ([]byte, error) {
	return m.Store.Secret(ctx, name, func() ([]byte, error) {
		b := make([]byte, size)
		_, err := rand.Read(b)
		return b, err
	})
}

// loadLogKey reads the log key (--log-key-file, or in the data folder),
// creating it on a deployment's first start, and writes its verifier key
// to the data folder for the operator to publish. The store remembers the
// first verifier key any node used: a node with another key (a cluster
// node given no key file, which made its own) is refused, for two keys
// would sign two logs.
func (m *Main) loadLogKey(ctx context.Context, origin string) (*accesslog.Key, error) {
	key, err := accesslog.LoadOrCreateKey(cmp.Or(m.Config.LogKeyFile, filepath.Join(m.Config.Data, accesslog.PrivateKeyFile)), origin)
	if err != nil {
		return nil, err
	}
	if err := accesslog.WriteVerifierKey(m.Config.Data, key); err != nil {
		return nil, err
	}
	recorded, err := m.Store.Secret(ctx, logVerifierKeySecret, func() ([]byte, error) { return []byte(key.VerifierKey), nil })
	if err != nil {
		return nil, err
	}
	if string(recorded) != key.VerifierKey {
		return nil, fmt.Errorf("this node's log key (verifier %s) is not the deployment's (verifier %s): give every node the same --log-key-file", key.VerifierKey, recorded)
	}
	return key, nil
}

// logVerifierKeySecret names the store's record of the deployment's log
// verifier key (public; kept with the store's secrets, which are
// write-once).
const logVerifierKeySecret = "log-verifier-key"

// accessLog is the transparency log as this node runs it.
type accessLog struct {
	key      *accesslog.Key
	log      *accesslog.Log
	recorder *accesslog.Recorder
	routes   func(*http.ServeMux) // /log/...
}

// openAccessLog starts the transparency log: the log key (logKey), the
// member-tag master key (a store secret), the feeder that drains the
// store's outbox into Tessera under the log folder (--log-dir), and the
// recorder that the Graph API calls for every request. The log's origin is
// the --public-url host, else the --addr flag as given: not the listener's
// address, which changes on every start on port 0.
func (m *Main) openAccessLog(ctx context.Context, logger *slog.Logger, witnesses *accesslog.WitnessPolicy) (*accessLog, error) {
	host := m.Config.Addr
	if m.Config.PublicURL != "" {
		u, err := url.Parse(m.Config.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("access log: public url: %w", err)
		}
		host = u.Host
	}
	key, err := m.loadLogKey(ctx, accesslog.Origin(host))
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	master, err := m.secret(ctx, "accesslog-master", accesslog.MinMasterKeySize)
	if err != nil {
		return nil, fmt.Errorf("access log: master key: %w", err)
	}
	outbox := accesslog.StoreOutbox{Store: m.Store}
	dir := cmp.Or(m.Config.LogDir, filepath.Join(m.Config.Data, "log"))
	lg := &accessLog{key: key, log: accesslog.OpenLog(dir, key.Verifier)}
	cfg := accesslog.FeederConfig{Dir: dir, Key: key, Outbox: outbox, Logger: logger, Witnesses: witnesses, WitnessMonitor: m.Witnesses}
	if err := m.startFeeder(cfg); err != nil {
		return nil, err
	}
	if lg.recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: m.Store, MasterKey: master, Signer: key.Signer, Notify: m.notifyFeeder}); err != nil {
		return nil, err
	}
	lg.routes = accesslog.NewHandler(lg.log, key.VerifierKey, outbox).Register
	logger.Info("transparency log", "origin", accesslog.Origin(host), "verifier_key", key.VerifierKey)
	if witnesses != nil {
		names := make([]string, len(witnesses.Witnesses))
		for i, w := range witnesses.Witnesses {
			names[i] = w.Name
		}
		logger.Info("checkpoints are served once cosigned by a quorum of witnesses", "quorum", witnesses.Quorum, "witnesses", strings.Join(names, ","))
	}
	fmt.Fprintf(m.Stdout, "Transparency log verifier key: %s\n", key.VerifierKey)
	return lg, nil
}

// mountPages mounts the server-rendered pages members, partners and
// operators use, on the member API's mux.
func (m *Main) mountPages(kit *ui.Kit, key []byte, perAccount *ratelimit.Limiter, buckets ratelimit.Buckets, logger *slog.Logger, witnesses *accesslog.WitnessPolicy) {
	m.Web.Mount(kit.Mount)
	m.Web.Mount(messenger.New(messenger.Config{Kit: kit, Store: m.Store, Accounts: m.Web, Logger: logger}).Mount)
	exporter := export.New(export.Config{Store: m.Store, Log: m.Log, LogKey: m.logKey.VerifierKey, MemberKey: m.Recorder.MemberKey})
	m.Web.Mount(privacy.New(privacy.Config{
		Kit: kit, Store: m.Store, Export: exporter.Write, SignOut: m.Web.Logout,
		MemberKey: m.Recorder.MemberKey, PublicURL: m.Config.PublicURL, Witnesses: witnesses,
		// Wrong passwords on the deletion form count with failed logins.
		PasswordAttempts: perAccount,
		Buckets:          buckets,
		DeleteAccount: func(ctx context.Context, memberID int64) error {
			if err := m.Store.DeleteMember(ctx, memberID); err != nil {
				return err
			}
			m.Web.CloseMemberStreams(memberID)
			return nil
		},
		Logger: logger,
	}).Mount)
	m.Web.Mount(portal.New(portal.Config{Kit: kit, Store: m.Store, Key: key, SecureCookies: m.Config.Secure, Buckets: buckets, Logger: logger}).Mount)
	m.Web.Mount(transparency.New(transparency.Config{Kit: kit, Log: m.Log, VerifierKey: m.logKey.VerifierKey, Partners: m.Store,
		PublicURL: m.Config.PublicURL, Logger: logger}).Mount)
}

// feederStandby is how often a node without the feeder lock tries to take
// it over; feederLockCheck how often the feeder makes sure it still holds
// it, giving the database feederLockTimeout to answer. A check that times
// out ends the lock's connection, and with it the lock: the timeout is
// generous, for a busy database is no reason to move the feeder, while a
// restarted one or a cut connection fails the check at once.
const (
	feederStandby     = 5 * time.Second
	feederLockCheck   = time.Second
	feederLockTimeout = 15 * time.Second
)

// startFeeder runs the deployment's one feeder while this node holds the
// store's feeder lock. The first try is made now, so that a single node
// has its feeder (m.Feeder) when Run returns; a node that finds the lock
// held stands by and takes over when the holder goes away. Close stops it.
func (m *Main) startFeeder(cfg accesslog.FeederConfig) error {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopFeeder, m.feederDone = cancel, make(chan error, 1)
	lock, ok, err := m.Store.LockFeeder(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("access log: %w", err)
	}
	var f *accesslog.Feeder
	if ok {
		if f, err = accesslog.NewFeeder(ctx, cfg); err != nil {
			lock.Release()
			cancel()
			return fmt.Errorf("access log: %w", err)
		}
		m.Feeder = f
		cfg.Logger.Info("this node runs the transparency log feeder")
	} else {
		cfg.Logger.Info("another node runs the transparency log feeder; standing by")
	}
	go func() { m.feederDone <- m.feed(ctx, cfg, lock, f) }()
	return nil
}

// feed runs the feeder f under lock (nil for none yet) and, whenever this
// node does not hold the lock, stands by to take it, until ctx ends. A
// feeder stops as soon as its lock is found lost, before another node can
// take it over: two feeders would append to one log side by side.
func (m *Main) feed(ctx context.Context, cfg accesslog.FeederConfig, lock glasshouse.FeederLock, f *accesslog.Feeder) error {
	for {
		for f == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(feederStandby):
			}
			var ok bool
			var err error
			if lock, ok, err = m.Store.LockFeeder(ctx); err != nil {
				cfg.Logger.Warn("feeder lock", "err", err)
			} else if ok {
				if f, err = accesslog.NewFeeder(ctx, cfg); err != nil {
					cfg.Logger.Error("feeder", "err", err)
					lock.Release()
				} else {
					cfg.Logger.Info("took over the transparency log feeder")
				}
			}
		}
		m.feeder.Store(f)
		sweepCtx, stopSweep := context.WithCancel(ctx)
		swept := m.sweepAgreements(sweepCtx, cfg.Logger)
		err := runHeld(ctx, f, lock)
		stopSweep()
		<-swept
		m.feeder.Store(nil)
		// Requests are done, or the lock is gone: close the log, then let
		// another node feed. What is still in the outbox is appended by
		// the next feeder.
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
		err = errors.Join(err, f.Close(closeCtx))
		cancelClose()
		lock.Release()
		if ctx.Err() != nil {
			return err
		}
		cfg.Logger.Error("transparency log feeder stopped; standing by to take it again", "err", err)
		f = nil
	}
}

// runHeld runs f until ctx ends or lock is found lost.
func runHeld(ctx context.Context, f *accesslog.Feeder, lock glasshouse.FeederLock) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	tick := time.NewTicker(feederLockCheck)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			checkCtx, cancel := context.WithTimeout(ctx, feederLockTimeout)
			err := lock.Check(checkCtx)
			cancel()
			if err != nil && ctx.Err() == nil {
				stop()
				<-done
				return err
			}
		}
	}
}

// agreementSweep is how often the feeder's node logs the agreement
// changes that the log lacks (Store.LogAgreementChanges): expiries, which
// happen by the clock, and what was approved or set before agreements were
// logged, or around the server.
const agreementSweep = time.Minute

// sweepAgreements logs the agreement changes the log lacks now and every
// agreementSweep, until ctx ends; the returned channel closes then. Only
// the node that runs the feeder sweeps, so that nodes do not log one
// change twice.
func (m *Main) sweepAgreements(ctx context.Context, logger *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := m.Store.LogAgreementChanges(ctx, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Error("logging agreement changes", "err", err)
			case n > 0:
				logger.Info("logged agreement changes the log lacked (expiries, or changes made around the server)", "entries", n)
				m.notifyFeeder()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(agreementSweep):
			}
		}
	}()
	return done
}

// notifyFeeder wakes this node's feeder, if it runs one; other nodes'
// feeders poll the outbox.
func (m *Main) notifyFeeder() {
	if f := m.feeder.Load(); f != nil {
		f.Notify()
	}
}

// purgeEvery deletes expired sessions, authorization requests and token
// families at each interval, until the returned stop is called.
func (m *Main) purgeEvery(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := m.Store.Purge(ctx, time.Now()); err != nil && ctx.Err() == nil {
					m.Logger.Error("purge", "err", err)
				} else if n > 0 {
					m.Logger.Info("purged expired sessions, auth requests and tokens", "rows", n)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// serveDebug serves the Go profiler on its own listener, never on the
// public one.
func (m *Main) serveDebug() error {
	ln, err := net.Listen("tcp", m.Config.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go m.debug.Serve(ln)
	m.Logger.Info("serving profiles", "addr", ln.Addr().String())
	return nil
}

// URL is the server's public base URL: --public-url, or the listener's.
func (m *Main) URL() string {
	if m.Config.PublicURL != "" {
		return strings.TrimRight(m.Config.PublicURL, "/")
	}
	if m.ln == nil {
		return ""
	}
	return "http://" + m.ln.Addr().String()
}

// storeLocation is where a deployment keeps its store: the data folder,
// the database (--db) and the storage key (--storage-key-file).
type storeLocation struct {
	data, db, storageKey string
}

func (m *Main) location() storeLocation {
	return storeLocation{data: m.Config.Data, db: m.Config.DB, storageKey: m.Config.StorageKeyFile}
}

// storageKeyPath is the storage key's file: as given, or in the data
// folder.
func (l storeLocation) storageKeyPath() string {
	return cmp.Or(l.storageKey, filepath.Join(l.data, storageKeyFile))
}

// openStore opens the database that --db names, or SQLite under data.
func openStore(ctx context.Context, l storeLocation, pub glasshouse.Publisher) (*sqlstore.Store, error) {
	open, dsn, err := database(l.data, l.db)
	if err != nil {
		return nil, err
	}
	kek, err := loadOrCreateStorageKey(l.data, l.storageKeyPath())
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, dsn, sqlstore.Config{Publisher: pub, KeyEncryptionKey: kek})
	if errors.Is(err, sqlstore.ErrKEKMismatch) {
		return nil, fmt.Errorf("%w: the storage key at %s is not the deployment's; give every node the same --storage-key-file", err, l.storageKeyPath())
	}
	return s, err
}

// openExisting opens the store of an existing deployment, for the operator
// commands: unlike serve, it creates nothing, so that a command run in the
// wrong folder says so instead of starting a new, empty deployment.
func openExisting(ctx context.Context, l storeLocation) (*sqlstore.Store, error) {
	_, dsn, err := database(l.data, l.db)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(l.data)
	if err != nil {
		abs = l.data
	}
	if l.storageKey != "" {
		if _, err := os.Stat(l.storageKey); err != nil {
			return nil, fmt.Errorf("no storage key at %s: pass --storage-key-file as 'glasshouse serve' has it", l.storageKey)
		}
	} else if st, err := os.Stat(l.data); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("no data folder at %s: pass --data (or set GLASSHOUSE_DATA) to the folder 'glasshouse serve' uses", abs)
	} else if _, err := os.Stat(l.storageKeyPath()); err != nil {
		return nil, fmt.Errorf("%s is not a glasshouse data folder (it has no %s): pass --data (or set GLASSHOUSE_DATA) to the folder 'glasshouse serve' uses", abs, storageKeyFile)
	}
	if isSQLite(l.db) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("no database at %s: pass --db (or set GLASSHOUSE_DB) as 'glasshouse serve' has it", dsn)
		}
	}
	return openStore(ctx, l, nil)
}

// database returns the opener and data source name of --db: SQLite at
// sqlite:PATH, or under the data folder when db is empty, or PostgreSQL.
func database(data, db string) (open func(ctx context.Context, dsn string, cfg sqlstore.Config) (*sqlstore.Store, error), dsn string, err error) {
	switch {
	case db == "":
		return sqlite.Open, filepath.Join(data, "glasshouse.db"), nil
	case isSQLite(db):
		return sqlite.Open, strings.TrimPrefix(db, "sqlite:"), nil
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return postgres.Open, db, nil
	}
	return nil, "", fmt.Errorf("--db must be sqlite:PATH or a postgres:// URL, not %q", db)
}

func isSQLite(db string) bool { return db == "" || strings.HasPrefix(db, "sqlite:") }

// storageKeyFile is the key-encryption key of the members' secrets, in the
// data folder: outside the database, so that a copy of the database alone
// reads no message.
const storageKeyFile = "storage.key"

// loadOrCreateStorageKey reads the storage key at path (32 bytes, base64),
// or creates it on first start (and the data folder, where it goes by
// default). Two processes starting at once agree on one key: the file
// appears whole or not at all, and only once.
func loadOrCreateStorageKey(data, path string) ([]byte, error) {
	read := func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("storage key %s: want 32 bytes in base64", path)
		}
		return key, nil
	}
	if key, err := read(); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("storage key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	err := atomicfile.Create(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("storage key: %w", err)
	}
	return read()
}

// Close shuts down gracefully: stop accepting and finish in-flight requests,
// close the streams, then flush and close the database.
func (m *Main) Close() error {
	var errs []error
	if m.HTTP == nil && m.ln != nil {
		m.ln.Close() // Run failed after listening
	}
	if m.HTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := m.HTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		if err := <-m.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
		// Wait for the streams closed at shutdown's start to finish.
		m.Web.CloseStreams()
	}
	if m.debug != nil {
		m.debug.Close()
	}
	if m.stopPurge != nil {
		m.stopPurge()
	}
	if m.stopFeeder != nil {
		m.stopFeeder()
		if err := <-m.feederDone; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("feeder: %w", err))
		}
	}
	if m.Hub != nil {
		m.Hub.Close()
	}
	m.leaveCluster()
	if m.Store != nil {
		if err := m.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if m.Logger != nil {
		m.Logger.Info("stopped")
	}
	return errors.Join(errs...)
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// streamLimit turns --max-streams-per-member into web's setting, where
// zero means the default and negative no limit.
func streamLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// dbKind names the database without its credentials, for the log.
func dbKind(db string) string {
	if strings.HasPrefix(db, "postgres") {
		return "postgres"
	}
	return "sqlite"
}
