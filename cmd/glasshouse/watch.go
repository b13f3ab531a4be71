package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/atomicfile"
)

// `glasshouse audit watch URL` follows a server's log as a Certificate
// Transparency monitor follows a CT log: from its state file it verifies
// every new checkpoint (signature, witnesses, consistency with the last
// one, by extending the verified tree with only the new entries), decodes
// the new entries and evaluates its rules over them, printing one line (or
// one JSON object) per alert. The follower itself is accesslog.Follower.

// The rules, as --rules names them, and the alerts each raises.
const (
	ruleScope      = "scope"      // scope_granted: a granted access used a --scopes scope
	ruleOutside    = "outside"    // outside_agreement: a granted access outside its logged agreement
	ruleDenials    = "denials"    // denial_rate: more than --max-denials denials of one partner
	ruleAgreements = "agreements" // agreement_new, agreement_widened, agreement_approved
	ruleStatus     = "status"     // agreement_suspended, agreement_resumed, agreement_expired
)

var watchRuleNames = []string{ruleScope, ruleOutside, ruleDenials, ruleAgreements, ruleStatus}

// alertNames are every alert's rule, for the metrics.
var alertNames = []string{"scope_granted", "outside_agreement", "denial_rate", "agreement_new", "agreement_widened",
	"agreement_approved", "agreement_suspended", "agreement_resumed", "agreement_expired"}

// watchAlert is one alert: a line, or with --json an object.
type watchAlert struct {
	Rule    string    `json:"rule"`
	Index   uint64    `json:"index"` // the log index of the entry that raised it
	EventID string    `json:"event_id"`
	Partner string    `json:"partner"`
	Time    time.Time `json:"time"` // the entry's time
	Version uint32    `json:"agreement_version,omitempty"`
	Scopes  []string  `json:"scopes,omitempty"`
	Finding string    `json:"finding,omitempty"` // outside_agreement: Compliance's rule
	Detail  string    `json:"detail"`
}

func (a watchAlert) String() string {
	return fmt.Sprintf("ALERT %s entry %d (%s): %s: %s", a.Rule, a.Index, a.Time.Format(time.RFC3339), a.Partner, a.Detail)
}

// denialLimit is --max-denials: more than N denials of one partner within
// Period (by the entries' minutes) raise denial_rate.
type denialLimit struct {
	N      int
	Period time.Duration
}

func (d *denialLimit) String() string {
	if d.N == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", d.N, shortDuration(d.Period))
}

func (d *denialLimit) Set(s string) error {
	if s == "off" || s == "0" {
		*d = denialLimit{}
		return nil
	}
	n, p, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 {
		return errors.New("want N/PERIOD, such as 100/1h, or off")
	}
	period, err := time.ParseDuration(p)
	if err != nil || period < time.Minute {
		return errors.New("want N/PERIOD with a period of at least 1m (entries hold their minute), such as 100/1h")
	}
	*d = denialLimit{count, period}
	return nil
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// watchRules evaluates the rules over the entries a follower hands over.
// Its state (the denial windows) is saved with the follower's.
type watchRules struct {
	enabled map[string]bool
	scopes  []string
	limit   denialLimit
	follow  *accesslog.Follower // for the agreement history before an entry
	emit    func(watchAlert)
	rulesState
}

// rulesState is what the rules keep between runs.
type rulesState struct {
	// Denials holds, per partner, its denials per minute within the
	// --max-denials period before its latest denial.
	Denials map[string][]minuteCount `json:"denials,omitempty"`
	// Muted holds, per partner, until when no new denial_rate alert is
	// raised (one per period).
	Muted map[string]time.Time `json:"denials_muted,omitempty"`
}

type minuteCount struct {
	T time.Time `json:"t"`
	N int       `json:"n"`
}

// entry evaluates the rules over one entry; f's Compliance does not hold
// it yet.
func (r *watchRules) entry(index uint64, e accesslog.AnyEntry) {
	if a := e.Agreement; a != nil {
		r.agreement(index, a)
		return
	}
	x := e.Access
	base := watchAlert{Index: index, EventID: x.EventID.String(), Partner: x.PartnerID, Time: x.Time.UTC(), Version: x.AgreementVersion, Scopes: x.Scopes}
	if x.Decision == accesslog.Granted && r.enabled[ruleScope] {
		var hit []string
		for _, s := range x.Scopes {
			if slices.Contains(r.scopes, s) {
				hit = append(hit, s)
			}
		}
		if len(hit) > 0 {
			a := base
			a.Rule = "scope_granted"
			a.Detail = fmt.Sprintf("granted %s: %s, %d items, agreement v%d", strings.Join(hit, " "), x.Endpoint, x.Items, x.AgreementVersion)
			if x.Reason != "" {
				a.Detail += ", then " + x.Reason
			}
			r.emit(a)
		}
	}
	if x.Decision == accesslog.Denied && r.enabled[ruleDenials] && r.limit.N > 0 {
		if n, ok := r.denial(x.PartnerID, x.Time.UTC()); ok {
			a := base
			a.Rule = "denial_rate"
			a.Detail = fmt.Sprintf("%d denials within %s (more than %d); the last: %s %s (%s)", n, shortDuration(r.limit.Period), r.limit.N,
				x.Endpoint, strings.Join(x.Scopes, " "), x.Reason)
			r.emit(a)
		}
	}
}

// denial counts a denial of partner at minute t and says whether it
// takes the partner over the limit, with how many denials the window
// holds.
func (r *watchRules) denial(partner string, t time.Time) (int, bool) {
	if r.Denials == nil {
		r.Denials, r.Muted = map[string][]minuteCount{}, map[string]time.Time{}
	}
	w := r.Denials[partner]
	if k := len(w); k > 0 && !t.After(w[k-1].T) {
		w[k-1].N++ // the same minute, or an entry logged out of order
	} else {
		w = append(w, minuteCount{T: t, N: 1})
	}
	// The window is (t - period, t], by whole minutes.
	drop := 0
	for drop < len(w) && !w[drop].T.After(t.Add(-r.limit.Period)) {
		drop++
	}
	w = slices.Delete(w, 0, drop)
	r.Denials[partner] = w
	n := 0
	for _, m := range w {
		n += m.N
	}
	if n <= r.limit.N || t.Before(r.Muted[partner]) {
		return n, false
	}
	r.Muted[partner] = t.Add(r.limit.Period)
	return n, true
}

// agreement evaluates the rules over an agreement entry.
func (r *watchRules) agreement(index uint64, e *accesslog.AgreementEntry) {
	a := watchAlert{Index: index, EventID: e.EventID.String(), Partner: e.PartnerID, Time: e.Time.UTC(), Version: e.Version, Scopes: e.Scopes}
	switch e.Action {
	case accesslog.Approved:
		if !r.enabled[ruleAgreements] {
			return
		}
		prev := r.lastApproved(e.PartnerID)
		switch {
		case prev == nil:
			a.Rule = "agreement_new"
			a.Detail = fmt.Sprintf("first agreement approved, v%d: %s; expires %s", e.Version, strings.Join(e.Scopes, " "), e.Expires.Format(time.DateOnly))
		default:
			added, removed := scopeDiff(prev.Scopes, e.Scopes)
			a.Rule = "agreement_approved"
			if len(added) > 0 {
				a.Rule = "agreement_widened"
			}
			var changes []string
			if len(added) > 0 {
				changes = append(changes, "adds "+strings.Join(added, " "))
			}
			if len(removed) > 0 {
				changes = append(changes, "drops "+strings.Join(removed, " "))
			}
			if len(changes) == 0 {
				changes = append(changes, "same scopes")
			}
			if !e.Expires.Equal(prev.Expires) {
				changes = append(changes, fmt.Sprintf("expiry %s -> %s", prev.Expires.Format(time.DateOnly), e.Expires.Format(time.DateOnly)))
			}
			a.Detail = fmt.Sprintf("v%d approved: %s (v%d had %s): %s", e.Version, strings.Join(e.Scopes, " "), prev.Version,
				strings.Join(prev.Scopes, " "), strings.Join(changes, "; "))
		}
	default:
		if !r.enabled[ruleStatus] {
			return
		}
		a.Rule = "agreement_" + e.Action.String()
		a.Detail = fmt.Sprintf("v%d %s", e.Version, e.Action)
	}
	r.emit(a)
}

// lastApproved returns the partner's last approved agreement entry in the
// log so far, nil if none.
func (r *watchRules) lastApproved(partner string) *accesslog.AgreementEntry {
	h := r.follow.Compliance().Partners[partner]
	if h == nil {
		return nil
	}
	for _, e := range slices.Backward(h.Entries) {
		if e.Action == accesslog.Approved {
			return e.AgreementEntry
		}
	}
	return nil
}

// scopeDiff returns the scopes of next not in prev, and those of prev not
// in next.
func scopeDiff(prev, next []string) (added, removed []string) {
	for _, s := range next {
		if !slices.Contains(prev, s) {
			added = append(added, s)
		}
	}
	for _, s := range prev {
		if !slices.Contains(next, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

// finding raises outside_agreement for a Compliance finding.
func (r *watchRules) finding(f accesslog.Finding) {
	if !r.enabled[ruleOutside] {
		return
	}
	r.emit(watchAlert{Rule: "outside_agreement", Index: f.Index, EventID: f.EventID.String(), Partner: f.Partner, Time: f.Time,
		Version: f.Version, Scopes: f.Scopes, Finding: f.Rule, Detail: f.Rule + ": " + f.Detail})
}

// watchState is the watch command's state file: the follower's state
// (the audit state's fields, the compact range, the agreement entries)
// and the rules'.
type watchState struct {
	accesslog.FollowState
	Rules rulesState `json:"rules"`
}

func readWatchState(path string) (*watchState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("%w file %s: %w", accesslog.ErrState, path, err)
	}
	var st watchState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w file %s: not a state file: %w", accesslog.ErrState, path, err)
	}
	if len(st.Hash) != 32 || st.Key == "" {
		return nil, fmt.Errorf("%w file %s: not a state file: no key or no 32-byte hash", accesslog.ErrState, path)
	}
	return &st, nil
}

func writeWatchState(path string, st *watchState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("%w file %s: %w", accesslog.ErrState, path, err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("%w file %s: %w", accesslog.ErrState, path, err)
	}
	return nil
}

// watchMetrics are what --metrics-addr serves.
type watchMetrics struct {
	entries     *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	size        prometheus.Gauge
	verified    prometheus.Gauge
	fetchErrors prometheus.Counter
}

func newWatchMetrics(reg prometheus.Registerer) *watchMetrics {
	m := &watchMetrics{
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "glasshouse_watch_entries_total",
			Help: "Log entries verified and evaluated since the monitor started, by kind: access or agreement."}, []string{"kind"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "glasshouse_watch_alerts_total",
			Help: "Alerts raised since the monitor started, by rule."}, []string{"rule"}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{Name: "glasshouse_watch_checkpoint_size",
			Help: "Size of the last checkpoint verified."}),
		verified: prometheus.NewGauge(prometheus.GaugeOpts{Name: "glasshouse_watch_last_verified_timestamp_seconds",
			Help: "Unix time of the last successful check of the log's checkpoint."}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "glasshouse_watch_fetch_errors_total",
			Help: "Failed attempts to follow the log that were not inconsistencies (the network, the server); each is retried."}),
	}
	for _, k := range []string{"access", "agreement"} {
		m.entries.WithLabelValues(k)
	}
	for _, r := range alertNames {
		m.alerts.WithLabelValues(r)
	}
	reg.MustRegister(m.entries, m.alerts, m.size, m.verified, m.fetchErrors)
	return m
}

// watchConfig is what the watch command was asked to do.
type watchConfig struct {
	URL, Key, StateFile string
	Witnesses           *accesslog.WitnessPolicy
	Interval            time.Duration
	MaxBackoff          time.Duration
	Once, JSON          bool
	MetricsAddr         string
	Rules               []string
	Scopes              []string
	MaxDenials          denialLimit
}

// runWatch follows the log until ctx ends (or, with Once, until it has
// caught up). It returns an error wrapping accesslog.ErrTampered when the
// log forks or does not verify, and nil when ctx ends.
func runWatch(ctx context.Context, c watchConfig, stdout, stderr io.Writer) error {
	st, err := readWatchState(c.StateFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := newWatchMetrics(reg)
	if c.MetricsAddr != "" {
		ln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("audit watch: --metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintf(stderr, "metrics at http://%s/metrics\n", ln.Addr())
	}
	rules := &watchRules{enabled: map[string]bool{}, scopes: c.Scopes, limit: c.MaxDenials}
	for _, r := range c.Rules {
		rules.enabled[r] = true
	}
	var fst *accesslog.FollowState
	if st != nil {
		fst, rules.rulesState = &st.FollowState, st.Rules
	}
	alerts := 0
	enc := json.NewEncoder(stdout)
	rules.emit = func(a watchAlert) {
		alerts++
		metrics.alerts.WithLabelValues(a.Rule).Inc()
		if c.JSON {
			enc.Encode(a)
		} else {
			fmt.Fprintln(stdout, a)
		}
	}
	fcfg := accesslog.FollowConfig{
		URL: c.URL, Key: c.Key, Witnesses: c.Witnesses, Client: &http.Client{Timeout: time.Minute},
		Entry: func(index uint64, e accesslog.AnyEntry) {
			kind := "access"
			if e.Agreement != nil {
				kind = "agreement"
			}
			metrics.entries.WithLabelValues(kind).Inc()
			rules.entry(index, e)
		},
		Finding: rules.finding,
	}
	f, err := accesslog.NewFollower(fcfg, fst)
	if err != nil {
		return err
	}
	rules.follow = f
	if st != nil {
		fmt.Fprintf(stderr, "watching %s from the checkpoint of size %d verified %s (state %s)\n", c.URL, st.Size, st.VerifiedAt.Format(time.RFC3339), c.StateFile)
	} else {
		fmt.Fprintf(stderr, "watching %s from its first entry (state %s)\n", c.URL, c.StateFile)
	}
	saved, written := f.State().Size, st != nil
	backoff := time.Duration(0)
	for {
		before := alerts
		step, err := f.Advance(ctx)
		switch {
		case errors.Is(err, accesslog.ErrTampered):
			return fmt.Errorf("log NOT verified, stopped watching: %w%s", err, startedOver(err, c.StateFile))
		case ctx.Err() != nil:
			return nil
		case err != nil:
			metrics.fetchErrors.Inc()
			if c.Once {
				return fmt.Errorf("could not follow the log: %w", err)
			}
			backoff = min(max(2*backoff, time.Second), c.MaxBackoff)
			fmt.Fprintf(stderr, "could not follow the log (retrying in %s from entry %d): %v\n", backoff, f.Size(), err)
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		cp := step.Checkpoint
		metrics.size.Set(float64(cp.Size))
		metrics.verified.Set(float64(time.Now().Unix()))
		if cur := f.State(); cur.Size != saved || !written {
			if err := writeWatchState(c.StateFile, &watchState{FollowState: cur, Rules: rules.rulesState}); err != nil {
				return err
			}
			saved, written = cur.Size, true
		}
		if step.To > step.From || c.Once {
			consistent := ""
			switch {
			case step.Previous == cp.Size:
				consistent = ", unchanged since the last check"
			case step.Previous > 0:
				consistent = fmt.Sprintf(", consistent with %d", step.Previous)
			}
			fmt.Fprintf(stderr, "checkpoint %d verified%s: %d new entries (%d agreement), %d alerts\n",
				cp.Size, consistent, step.To-step.From, step.Agreements, alerts-before)
		}
		if c.Once {
			return nil
		}
		if !sleep(ctx, c.Interval) {
			return nil
		}
	}
}

// sleep waits d, or until ctx ends; it says whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
