package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
)

// The nodes `glasshouse bench` starts are child processes running this
// same binary's `serve`, not Mains in the bench's own process: each has its
// own Go runtime, connection pool and NATS connection, as in a deployment,
// and its own CPU time, which /proc/PID/stat gives per node. The bench
// process itself (the HTTP and WebSocket clients, and an embedded
// nats-server when --nats is not given) is measured apart, with getrusage,
// and so is PostgreSQL's server when it runs on this machine.

// benchExecutable is the binary whose `serve` runs the nodes: this one
// (tests, whose binary is not glasshouse, build it).
var benchExecutable = os.Executable

// benchCluster is the nodes a bench run started, on one data folder.
type benchCluster struct {
	nodes      []*benchServer
	data       string         // the shared data folder
	db         string         // --db as given ("" for SQLite in data)
	nodeDB     string         // the nodes' --db: with PostgreSQL, the database created for the run
	createdDB  string         // the name of that database, dropped at the end ("" if none)
	natsURL    string         // "" for none
	nats       *server.Server // the nats-server embedded for the run, if any
	postmaster int            // the local PostgreSQL server's postmaster pid, 0 if none found
}

type benchClusterConfig struct {
	db, nats string
	nodes    int
	profile  bool     // serve Go profiles on a debug address
	extra    []string // more serve flags
}

// benchServer is one node, a `glasshouse serve` child process.
type benchServer struct {
	cmd   *exec.Cmd
	url   string
	debug string // its --debug-addr, if any
}

// startBenchCluster starts cfg.nodes nodes on a fresh data folder: the
// first alone (it creates the storage key and the schema), then the rest.
// With several nodes and no cfg.nats, it embeds a nats-server on loopback
// for the run.
func startBenchCluster(ctx context.Context, cfg benchClusterConfig) (cl *benchCluster, err error) {
	bin, err := benchExecutable()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp("", "glasshouse-bench-")
	if err != nil {
		return nil, err
	}
	cl = &benchCluster{data: data, db: cfg.db, natsURL: cfg.nats}
	defer func() {
		if err != nil {
			cl.stop()
		}
	}()
	if cfg.nodes > 1 && cfg.nats == "" {
		cl.nats, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
		if err != nil {
			return cl, fmt.Errorf("bench: embedded nats-server: %w", err)
		}
		go cl.nats.Start()
		if !cl.nats.ReadyForConnections(10 * time.Second) {
			return cl, errors.New("bench: the embedded nats-server did not start")
		}
		cl.natsURL = cl.nats.ClientURL()
	}
	cl.nodeDB = cfg.db
	if !isSQLite(cfg.db) {
		if err := cl.createDatabase(ctx); err != nil {
			return cl, err
		}
	}
	for range cfg.nodes {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"}
		if cl.nodeDB != "" {
			args = append(args, "--db", cl.nodeDB)
		}
		if cl.natsURL != "" {
			args = append(args, "--nats", cl.natsURL)
		}
		var debugAddr string
		if cfg.profile {
			if debugAddr, err = freeLoopbackAddr(); err != nil {
				return cl, err
			}
			args = append(args, "--debug-addr", debugAddr)
		}
		s, err := startBenchServer(ctx, bin, append(args, cfg.extra...))
		if err != nil {
			return cl, err
		}
		s.debug = debugAddr
		cl.nodes = append(cl.nodes, s)
	}
	return cl, nil
}

func startBenchServer(ctx context.Context, bin string, args []string) (*benchServer, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &benchServer{cmd: cmd}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "glasshouse is running at "); ok {
			s.url = u
			go io.Copy(io.Discard, out)
			return s, nil
		}
	}
	s.stop()
	return nil, errors.New("bench: a node did not start (its errors are above)")
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// stop stops the nodes, all at once, then NATS, and removes the data.
func (cl *benchCluster) stop() {
	done := make(chan struct{})
	for _, s := range cl.nodes {
		go func() {
			s.stop()
			done <- struct{}{}
		}()
	}
	for range cl.nodes {
		<-done
	}
	if cl.nats != nil {
		cl.nats.Shutdown()
		cl.nats.WaitForShutdown()
	}
	if cl.createdDB != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, cl.db)
		if err == nil {
			// The name is ours, made of letters and digits: safe to quote.
			_, err = conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE "%s" WITH (FORCE)`, cl.createdDB))
			conn.Close(ctx)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: could not drop the database %s it created: %v\n", cl.createdDB, err)
		}
	}
	os.RemoveAll(cl.data)
}

// createDatabase gives the nodes a new, empty database on the PostgreSQL
// server of --db, as they get a new data folder: the same start for every
// run, and one that matches the fresh storage key (a database whose
// secrets were sealed under another key is refused). It also finds the
// server's postmaster if it runs on this machine, to count its CPU.
func (cl *benchCluster) createDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u, err := url.Parse(cl.db)
	if err != nil {
		return fmt.Errorf("--db: %v", err)
	}
	conn, err := pgx.Connect(ctx, cl.db)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", redactURL(cl.db), err)
	}
	defer conn.Close(context.Background())
	cl.postmaster = localPostmaster(ctx, conn)
	name := fmt.Sprintf("glasshouse_bench_%d_%d", time.Now().Unix(), os.Getpid())
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE "%s"`, name)); err != nil {
		return fmt.Errorf("bench: creating a database for the run on %s (the --db role needs CREATEDB): %w", redactURL(cl.db), err)
	}
	cl.createdDB = name
	u.Path = "/" + name
	cl.nodeDB = u.String()
	return nil
}

func (cl *benchCluster) urls() []string {
	var out []string
	for _, s := range cl.nodes {
		out = append(out, s.url)
	}
	return out
}

// describe says what runs where.
func (cl *benchCluster) describe(w io.Writer) {
	build := "glasshouse " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			build += ", commit " + rev
			if modified == "true" {
				build += " with uncommitted changes"
			}
		}
	}
	db := "SQLite in the data folder"
	if cl.createdDB != "" {
		db = fmt.Sprintf("PostgreSQL, a new database %s created for the run on %s (dropped after)", cl.createdDB, redactURL(cl.db))
	} else if cl.db != "" {
		db = redactURL(cl.db)
	}
	fmt.Fprintf(w, "bench: %s; %d node(s), child processes running `serve` on one data folder; database %s\n", build, len(cl.nodes), db)
	switch {
	case cl.nats != nil:
		fmt.Fprintf(w, "NATS: %s, a nats-server embedded in this bench process and started for the run (no --nats given): its CPU counts as the bench's\n", cl.natsURL)
	case cl.natsURL != "":
		fmt.Fprintf(w, "NATS: %s (--nats)\n", cl.natsURL)
	}
	for i, s := range cl.nodes {
		fmt.Fprintf(w, "node %d: %s (pid %d)\n", i+1, s.url, s.cmd.Process.Pid)
	}
	if cl.postmaster != 0 {
		fmt.Fprintf(w, "PostgreSQL runs on this machine (postmaster pid %d): its CPU is counted\n", cl.postmaster)
	}
}

// redactURL hides a password in a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// localPostmaster returns the pid of conn's PostgreSQL server if it runs
// on this machine (the parent of the backend that serves conn), or 0.
func localPostmaster(ctx context.Context, conn *pgx.Conn) int {
	var backend int
	if conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend) != nil {
		return 0
	}
	st, err := readProcStat(backend)
	if err != nil || st.comm != "postgres" {
		return 0
	}
	if pm, err := readProcStat(st.ppid); err != nil || pm.comm != "postgres" {
		return 0
	}
	return st.ppid
}

// procStat is what bench reads of /proc/PID/stat.
type procStat struct {
	comm string
	ppid int
	cpu  time.Duration // user and system time
	dead time.Duration // user and system time of its children that ended
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	f := strings.Fields(s[closing+1:]) // f[0] is field 3, state
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i-3], 10, 64); return v }
	return procStat{
		comm: s[open+1 : closing],
		ppid: int(n(4)),
		cpu:  time.Duration(n(14)+n(15)) * clockTick,
		dead: time.Duration(n(16)+n(17)) * clockTick,
	}, nil
}

// benchCPUSample is the CPU time spent so far by each process of a run.
type benchCPUSample struct {
	at       time.Time
	nodes    []time.Duration
	postgres time.Duration // postmaster and all its children, living or ended
	self     time.Duration // this process: the clients, and an embedded nats-server
	busy     time.Duration // the whole machine, all cores
	total    time.Duration // the whole machine's time, busy and idle, all cores
}

// benchCPU is the CPU time spent during a run, of window's length.
type benchCPU struct {
	benchCPUSample
	window time.Duration
}

func (cl *benchCluster) sample() benchCPUSample {
	s := benchCPUSample{at: time.Now()}
	for _, n := range cl.nodes {
		st, _ := readProcStat(n.cmd.Process.Pid)
		s.nodes = append(s.nodes, st.cpu)
	}
	if cl.postmaster != 0 {
		s.postgres = postgresCPU(cl.postmaster)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.busy, s.total = machineCPU()
	return s
}

// postgresCPU sums the CPU time of the postmaster, its children (backends,
// WAL writer, checkpointer...) and its children that ended.
func postgresCPU(postmaster int) time.Duration {
	pm, err := readProcStat(postmaster)
	if err != nil {
		return 0
	}
	total := pm.cpu + pm.dead
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.ppid == postmaster {
			total += st.cpu
		}
	}
	return total
}

// machineCPU reads the machine's busy and total CPU time from /proc/stat.
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i := 1; i <= 8; i++ {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		total += time.Duration(v) * clockTick
		if i != 4 && i != 5 { // idle, iowait
			busy += time.Duration(v) * clockTick
		}
	}
	return busy, total
}

func (s benchCPUSample) since(before benchCPUSample) *benchCPU {
	d := benchCPU{benchCPUSample: benchCPUSample{at: before.at}, window: s.at.Sub(before.at)}
	for i := range s.nodes {
		d.nodes = append(d.nodes, s.nodes[i]-before.nodes[i])
	}
	d.postgres = s.postgres - before.postgres
	d.self = s.self - before.self
	d.busy, d.total = s.busy-before.busy, s.total-before.total
	return &d
}

// print reports CPU time per acknowledged message, in µs: each node's,
// PostgreSQL's, the bench's, and the rest of the machine's (other work on a
// shared machine), over the run from its first send until every listener
// had the last message.
func (c *benchCPU) print(w io.Writer, cl *benchCluster, sent int) {
	per := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(sent)) }
	var nodes time.Duration
	var each []string
	for _, d := range c.nodes {
		nodes += d
		each = append(each, per(d))
	}
	line := fmt.Sprintf("  CPU µs per message: nodes %s", strings.Join(each, " + "))
	if len(c.nodes) > 1 {
		line += " = " + per(nodes)
	}
	ours := nodes + c.self
	if cl.postmaster != 0 {
		line += ", postgres " + per(c.postgres)
		ours += c.postgres
	}
	who := "bench client"
	if cl.nats != nil {
		who += " + embedded nats-server"
	}
	line += fmt.Sprintf(", %s %s", who, per(c.self))
	if c.total > 0 {
		line += fmt.Sprintf("; machine %.0f%% busy over %s, other processes %s µs/msg",
			100*float64(c.busy)/float64(c.total), c.window.Round(100*time.Millisecond), per(max(0, c.busy-ours)))
	}
	fmt.Fprintln(w, line)
}

// benchProfile profiles the nodes (through their --debug-addr) and this
// process during one run.
type benchProfile struct {
	prefix string
	self   *os.File
	nodes  chan error
	count  int
}

func (p *benchProfile) start(ctx context.Context, cl *benchCluster, d time.Duration) error {
	if cl == nil {
		return nil
	}
	f, err := os.Create(p.prefix + "-bench.pprof")
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.self = f
	secs := max(1, int(d.Seconds()))
	p.nodes, p.count = make(chan error, len(cl.nodes)), len(cl.nodes)
	for i, s := range cl.nodes {
		go func() {
			p.nodes <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.debug, secs), fmt.Sprintf("%s-node%d.pprof", p.prefix, i+1))
		}()
	}
	return nil
}

func (p *benchProfile) stop() error {
	if p.self == nil {
		return nil
	}
	pprof.StopCPUProfile()
	errs := []error{p.self.Close()}
	for range p.count {
		errs = append(errs, <-p.nodes)
	}
	return errors.Join(errs...)
}

func fetchProfile(ctx context.Context, u, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssMiB reads the server's resident set size from /proc.
func (s *benchServer) rssMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}
