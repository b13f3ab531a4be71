package accesslog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// Witnesses (C2SP tlog-witness) cosign the log's checkpoints: each one
// checks that a new checkpoint is consistent with the last one it cosigned
// for the log, and only then adds its cosignature/v1 line (C2SP
// tlog-cosignature) to the note. A verifier that asks for a quorum of
// witnesses it trusts cannot be shown a fork of the log that those
// witnesses did not all see.
//
// One witness is written, for --witness and the audit commands alike, as
// the fields of a Sigsum (and Tessera) policy file's "witness" line:
//
//	NAME VKEY [URL]
//
// NAME is a local label for logs and metrics, VKEY the witness's
// cosignature/v1 verifier key in note form
// (<key name>+<key hash, 8 hex>+<base64(0x04 || Ed25519 public key)>) and
// URL the witness's tlog-witness base URL (add-checkpoint is under it);
// only a log that submits checkpoints needs the URL.

// Witness is one witness of the log; ParseWitness makes one (a Witness
// built otherwise has no verifier).
type Witness struct {
	Name        string // local label, for logs and metrics
	VerifierKey string // cosignature/v1 verifier key in note form
	URL         string // tlog-witness base URL; "" when only verifying
	verifier    note.Verifier
}

// KeyName is the name in the witness's key: the name its cosignature
// lines carry.
func (w Witness) KeyName() string { return w.verifier.Name() }

// String returns w in the syntax ParseWitness reads.
func (w Witness) String() string {
	return strings.TrimSpace(w.Name + " " + w.VerifierKey + " " + w.URL)
}

// ParseWitness reads one witness, "NAME VKEY [URL]" (fields separated by
// white space). VKEY must be a cosignature/v1 Ed25519 key (type 0x04)
// whose key hash matches; URL, when present, must be http or https.
func ParseWitness(s string) (Witness, error) {
	f := strings.Fields(s)
	if len(f) != 2 && len(f) != 3 {
		return Witness{}, fmt.Errorf("witness %q: want NAME VKEY [URL]", s)
	}
	w := Witness{Name: f[0], VerifierKey: f[1]}
	if strings.ContainsAny(w.Name, "+\"\\") {
		return Witness{}, fmt.Errorf("witness %q: the name may not hold '+', '\"' or '\\'", w.Name)
	}
	v, err := parseCosignatureKey(w.VerifierKey)
	if err != nil {
		return Witness{}, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	w.verifier = v
	if len(f) == 3 {
		u, err := url.Parse(f[2])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Witness{}, fmt.Errorf("witness %s: URL %q is not an http(s) URL", w.Name, f[2])
		}
		w.URL = f[2]
	}
	return w, nil
}

// parseCosignatureKey parses a cosignature/v1 verifier key and checks its
// key hash (note.NewVerifier would take it for an unknown algorithm).
func parseCosignatureKey(vkey string) (note.Verifier, error) {
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key64, _ := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 33 || len(hash) != 8 || name == "" {
		return nil, fmt.Errorf("verifier key %q is not <name>+<hash>+<base64 key> with an Ed25519 key", vkey)
	}
	if key[0] != 0x04 {
		return nil, fmt.Errorf("verifier key %q is of type 0x%02x, not a cosignature/v1 key (0x04)", vkey, key[0])
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key %q: %w", vkey, err)
	}
	if fmt.Sprintf("%08x", v.KeyHash()) != hash {
		return nil, fmt.Errorf("verifier key %q: key hash %s does not match the key (%08x)", vkey, hash, v.KeyHash())
	}
	return v, nil
}

// WitnessPolicy is the witnesses a verifier trusts, or a log submits its
// checkpoints to, and how many of them must cosign a checkpoint.
type WitnessPolicy struct {
	Witnesses []Witness
	Quorum    int // 1 to len(Witnesses)
}

// ParseWitnessPolicy reads witnesses (each "NAME VKEY [URL]", see
// ParseWitness) and a quorum, 0 meaning all of them. No witnesses and a
// quorum of 0 give a nil policy: checkpoints signed by the log alone. Two
// witnesses may not share a name or a key.
func ParseWitnessPolicy(witnesses []string, quorum int) (*WitnessPolicy, error) {
	if len(witnesses) == 0 {
		if quorum != 0 {
			return nil, fmt.Errorf("a witness quorum of %d needs witnesses", quorum)
		}
		return nil, nil
	}
	p := &WitnessPolicy{Quorum: quorum}
	names, keys := map[string]bool{}, map[string]bool{}
	for _, s := range witnesses {
		w, err := ParseWitness(s)
		if err != nil {
			return nil, err
		}
		id := w.KeyName() + "+" + fmt.Sprintf("%08x", w.verifier.KeyHash())
		if names[w.Name] || keys[id] {
			return nil, fmt.Errorf("witness %s is listed twice (same name or key)", w.Name)
		}
		names[w.Name], keys[id] = true, true
		p.Witnesses = append(p.Witnesses, w)
	}
	if p.Quorum == 0 {
		p.Quorum = len(p.Witnesses)
	}
	if p.Quorum < 0 || p.Quorum > len(p.Witnesses) {
		return nil, fmt.Errorf("witness quorum %d: want 1 to %d (the witnesses given)", quorum, len(p.Witnesses))
	}
	return p, nil
}

// Open verifies raw as Open-Checkpoint does (the log's signature under v,
// the origin) and then that at least p.Quorum of p's witnesses, each
// counted once, cosigned it with a valid cosignature/v1 line. A checkpoint
// short of the quorum is refused with an error wrapping ErrTampered that
// says how many valid cosignatures it has. A nil p checks the log's
// signature alone.
func (p *WitnessPolicy) Open(raw []byte, v note.Verifier) (*Checkpoint, error) {
	cp, err := OpenCheckpoint(raw, v)
	if err != nil || p == nil {
		return cp, err
	}
	got := p.Cosigners(raw)
	if len(got) < p.Quorum {
		return nil, fmt.Errorf("checkpoint: %w: the checkpoint of size %d has %d valid cosignatures from the %d listed witnesses (%s), want at least %d",
			ErrTampered, cp.Size, len(got), len(p.Witnesses), strings.Join(got, ", "), p.Quorum)
	}
	return cp, nil
}

// Cosigners returns the names of p's witnesses with a valid cosignature on
// raw (raw's log signature is not checked here).
func (p *WitnessPolicy) Cosigners(raw []byte) []string {
	if p == nil {
		return nil
	}
	var got []string
	for _, w := range p.Witnesses {
		if cosigned(raw, w.verifier) {
			got = append(got, w.Name)
		}
	}
	return got
}

// cosigned says whether raw carries a valid signature by v (and no invalid
// one by v's key: note.Open refuses those).
func cosigned(raw []byte, v note.Verifier) bool {
	n, err := note.Open(raw, note.VerifierList(v))
	return err == nil && len(n.Sigs) == 1
}

// tesseraGroup is p as Tessera submits to it.
func (p *WitnessPolicy) tesseraGroup() (tessera.WitnessGroup, error) {
	var ws []tessera.Witness
	for _, w := range p.Witnesses {
		if w.URL == "" {
			return tessera.WitnessGroup{}, fmt.Errorf("witness %s has no URL to submit checkpoints to", w.Name)
		}
		u, err := url.Parse(w.URL)
		if err != nil {
			return tessera.WitnessGroup{}, fmt.Errorf("witness %s: %w", w.Name, err)
		}
		tw, err := tessera.NewWitness(w.VerifierKey, u)
		if err != nil {
			return tessera.WitnessGroup{}, fmt.Errorf("witness %s: %w", w.Name, err)
		}
		ws = append(ws, tw)
	}
	// Components holds Tessera's unexported component interface, which
	// tessera.Witness implements (NewWitnessGroup's variadic parameter
	// cannot take a []tessera.Witness).
	g := tessera.WitnessGroup{N: p.Quorum}
	for _, w := range ws {
		g.Components = append(g.Components, w)
	}
	return g, nil
}

// WitnessMonitor watches a feeder's requests to its witnesses (it is the
// transport of Tessera's HTTP client): it logs each witness that stops or
// starts cosigning, and when the quorum is lost (the last cosigned
// checkpoint then stays served, and the log's new entries wait) or met
// again, and exports these as Prometheus metrics:
//
//	glasshouse_log_witness_up{witness}             1 if its last answer was a cosignature
//	glasshouse_log_witness_quorum_met              1 if at least the quorum is up
//	glasshouse_log_witness_cosigned_size{witness}  size of the last checkpoint it cosigned
//	glasshouse_log_witness_requests_total{witness,result}
//
// result is cosigned, resync (the witness said which size it knows; the
// request is made again), refused (a 4xx: a fork, a bad proof, an unknown
// log or key), error (another status) or unreachable. One monitor serves
// every feeder a process runs, one after the other.
type WitnessMonitor struct {
	policy *WitnessPolicy
	logger *slog.Logger
	next   http.RoundTripper
	byURL  map[string]string // add-checkpoint URL -> witness name

	mu       sync.Mutex
	down     map[string]string // witness name -> why, while it is not cosigning
	quorumOK bool

	up       *prometheus.GaugeVec
	size     *prometheus.GaugeVec
	quorum   prometheus.Gauge
	requests *prometheus.CounterVec
}

// NewWitnessMonitor returns a monitor of p's witnesses, logging to logger
// (nil: discarded). Register it with a Prometheus registry for its
// metrics.
func NewWitnessMonitor(p *WitnessPolicy, logger *slog.Logger) *WitnessMonitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &WitnessMonitor{
		policy: p, logger: logger, next: http.DefaultTransport,
		byURL: map[string]string{}, down: map[string]string{}, quorumOK: true,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glasshouse_log_witness_up",
			Help: "1 if the witness's last answer to a checkpoint was a cosignature, else 0.",
		}, []string{"witness"}),
		size: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glasshouse_log_witness_cosigned_size",
			Help: "Size of the last checkpoint the witness cosigned.",
		}, []string{"witness"}),
		quorum: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glasshouse_log_witness_quorum_met",
			Help: "1 if at least the witness quorum is cosigning; 0 while new checkpoints cannot be cosigned and the last cosigned one stays served.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glasshouse_log_witness_requests_total",
			Help: "Checkpoints submitted to each witness, by result: cosigned, resync, refused, error, unreachable.",
		}, []string{"witness", "result"}),
	}
	m.quorum.Set(1)
	if p != nil {
		for _, w := range p.Witnesses {
			u, err := url.Parse(w.URL)
			if err == nil {
				m.byURL[u.JoinPath("/add-checkpoint").String()] = w.Name
			}
			m.up.WithLabelValues(w.Name).Set(1)
			m.size.WithLabelValues(w.Name)
		}
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *WitnessMonitor) Describe(ch chan<- *prometheus.Desc) {
	m.up.Describe(ch)
	m.size.Describe(ch)
	m.quorum.Describe(ch)
	m.requests.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *WitnessMonitor) Collect(ch chan<- prometheus.Metric) {
	m.up.Collect(ch)
	m.size.Collect(ch)
	m.quorum.Collect(ch)
	m.requests.Collect(ch)
}

// QuorumMet says whether at least the quorum of witnesses cosigned at
// their last answer.
func (m *WitnessMonitor) QuorumMet() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.quorumOK
}

// client is the HTTP client Tessera submits checkpoints with.
func (m *WitnessMonitor) client() *http.Client { return &http.Client{Transport: m} }

// RoundTrip implements http.RoundTripper: it passes the request on and
// records what the witness answered.
func (m *WitnessMonitor) RoundTrip(req *http.Request) (*http.Response, error) {
	name, ok := m.byURL[req.URL.String()]
	if !ok {
		return m.next.RoundTrip(req)
	}
	size := submittedSize(req)
	resp, err := m.next.RoundTrip(req)
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		// Tessera stops asking once the quorum has answered.
	case err != nil:
		m.record(name, "unreachable", err.Error(), 0)
	case resp.StatusCode == http.StatusOK:
		m.record(name, "cosigned", "", size)
	case resp.StatusCode == http.StatusConflict && resp.Header.Get("Content-Type") == "text/x.tlog.size":
		m.record(name, "resync", "", 0)
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		result := "error"
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			result = "refused"
		}
		m.record(name, result, fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body))), 0)
	}
	return resp, err
}

// submittedSize reads the checkpoint size from an add-checkpoint request
// body ("old N\n[proof lines]\n\n<origin>\n<size>\n...").
func submittedSize(req *http.Request) uint64 {
	if req.GetBody == nil {
		return 0
	}
	r, err := req.GetBody()
	if err != nil {
		return 0
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	_, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return 0
	}
	lines := strings.SplitN(string(cp), "\n", 3)
	if len(lines) < 3 {
		return 0
	}
	n, _ := strconv.ParseUint(lines[1], 10, 64)
	return n
}

// record notes one answer of witness name and logs changes of state.
func (m *WitnessMonitor) record(name, result, why string, size uint64) {
	m.requests.WithLabelValues(name, result).Inc()
	if result == "resync" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, wasDown := m.down[name]
	if result == "cosigned" {
		m.up.WithLabelValues(name).Set(1)
		m.size.WithLabelValues(name).Set(float64(size))
		delete(m.down, name)
		if wasDown {
			m.logger.Info("witness cosigns the log's checkpoints again", "witness", name, "size", size)
		}
	} else {
		m.up.WithLabelValues(name).Set(0)
		m.down[name] = why
		if !wasDown {
			m.logger.Warn("witness did not cosign the log's checkpoint; retrying with the next checkpoint", "witness", name, "result", result, "err", why)
		}
	}
	ok := len(m.policy.Witnesses)-len(m.down) >= m.policy.Quorum
	if ok != m.quorumOK {
		m.quorumOK = ok
		if ok {
			m.quorum.Set(1)
			m.logger.Info("witness quorum met again: the log's new checkpoints are cosigned and served")
		} else {
			m.quorum.Set(0)
			down := make([]string, 0, len(m.down))
			for n, why := range m.down {
				down = append(down, n+": "+why)
			}
			m.logger.Error("witness quorum lost: serving the last cosigned checkpoint until enough witnesses cosign again; new entries are not in a served checkpoint meanwhile",
				"quorum", m.policy.Quorum, "witnesses", len(m.policy.Witnesses), "not_cosigning", strings.Join(down, "; "))
		}
	}
}
