package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

const auditUsage = `Usage: glasshouse audit verify URL [flags]
       glasshouse audit report URL [--partner CLIENT_ID] [--json] [flags]
       glasshouse audit trail URL --member-key KEY [--count N] [--json] [flags]
       glasshouse audit watch URL [--once] [--json] [--metrics-addr ADDR] [flags]

Auditor commands against a running server's transparency log (URL/log/...).

  verify   check the signed checkpoint, its consistency with the last checkpoint
           this machine verified (kept in --state), and the whole tree
           recomputed from every entry; fails naming what differs; then checks
           every granted access against the agreements the log holds, and fails
           if one was outside them
  report   verify, then count the entries per partner, scope and decision, list
           each partner's agreement history as the log holds it, and check each
           version's served terms against the hash the log holds
  trail    verify, then find a member's own entries by recomputing their tags
           with their member key (the privacy center shows it) and list the
           counters 1..N (their access count) that have no entry
  watch    follow the log as a monitor: verify every new checkpoint against the
           last one (kept in --state with what it needs to go on from there),
           and print an alert for each new entry that breaks a rule (a granted
           messages.read, an access outside its agreement, a burst of denials,
           a new or widened agreement, a suspension, resumption or expiry);
           exits 1 if the log forks or does not verify

Every command takes --witness 'NAME VKEY' (repeatable) and --witness-quorum N:
the checkpoint must then carry that many valid witness cosignatures.

Run 'glasshouse audit COMMAND --help' for the flags.
`

// auditCommands says what each audit command does and what it takes.
var auditCommands = map[string]command{
	"verify": {"URL", "Checks the signed checkpoint of the log served at URL/log/, its consistency with\nthe last checkpoint this machine verified (kept in --state), and the whole tree\nrecomputed from every entry; fails naming what differs."},
	"report": {"URL", "Verifies the log, then counts its entries per partner, scope and decision, lists each\npartner's agreement history as the log holds it, and checks each approved version's\nterms document against the hash the log holds. Exits 1 if a granted access was\noutside the agreement logged for it, or if terms changed."},
	"trail":  {"URL", "Verifies the log, then finds one member's own entries by recomputing their tags\nwith their member key, and names the counters 1..N (their access count) that\nhave no entry. The member's privacy center shows the key, the count and this\ncommand, ready to copy."},
	"watch":  {"URL", "Follows the log served at URL/log/ as a monitor: from the state in --state it\nverifies every new checkpoint (signature, witnesses, consistency with the last\none, fetching only the new tiles and entries), evaluates --rules over the new\nentries and prints one line per alert (one JSON object with --json). Polls every\n--interval until interrupted, retrying network errors; --once catches up and\nexits. Exits 1 if the log forks, shrinks or does not verify."},
}

// runAudit verifies a server's log and reports on it.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, args, fs, err := subcommand("audit", auditUsage, auditCommands, args, stderr)
	if cmd == "" {
		return err
	}
	key := fs.String("key", "", "the log's verifier `KEY` (note form) you trust; default: the one in --state, or on a first run the one the server publishes")
	state := fs.String("state", "", "`FILE` keeping the last verified checkpoint (default: under the user's config folder, one per server)")
	var witnesses []string
	fs.Var((*witnessList)(&witnesses), "witness", "a witness whose cosignature counts, as `'NAME VKEY'`: a label and its cosignature/v1 verifier key in note form (a URL after them is ignored; repeatable, or several separated by ';')")
	quorum := fs.Int("witness-quorum", 0, "how many of the --witness witnesses must have cosigned the checkpoint (default all)")
	var partner, memberKey string
	var expect uint64
	asJSON := new(bool)
	watch := watchConfig{Interval: 5 * time.Second, MaxBackoff: time.Minute, Rules: watchRuleNames, Scopes: []string{"messages.read"},
		MaxDenials: denialLimit{100, time.Hour}}
	switch cmd {
	case "report":
		fs.StringVar(&partner, "partner", "", "only this partner (`CLIENT_ID`)")
		asJSON = fs.Bool("json", false, "print JSON")
	case "trail":
		fs.StringVar(&memberKey, "member-key", "", "the member's `KEY` (base64), from their privacy center (required)")
		fs.Uint64Var(&expect, "count", 0, "the member's access count `N`, from their privacy center: counters 1..N must all be found")
		asJSON = fs.Bool("json", false, "print JSON")
	case "watch":
		fs.DurationVar(&watch.Interval, "interval", watch.Interval, "how often to fetch the checkpoint")
		fs.BoolVar(&watch.Once, "once", false, "catch up with the log's latest checkpoint, then exit (for cron and scripts)")
		fs.BoolVar(&watch.JSON, "json", false, "print each alert as one JSON object per line")
		fs.StringVar(&watch.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9464)")
		fs.Func("rules", "the rules to evaluate, a `LIST` of "+strings.Join(watchRuleNames, ", ")+" (default all)", func(v string) error {
			watch.Rules = nil
			for _, r := range splitList(v) {
				if !slices.Contains(watchRuleNames, r) {
					return fmt.Errorf("unknown rule %q: want some of %s", r, strings.Join(watchRuleNames, ", "))
				}
				watch.Rules = append(watch.Rules, r)
			}
			return nil
		})
		fs.Func("scopes", "rule scope: alert on every granted access that used one of these scopes, a `LIST` (default messages.read)", func(v string) error {
			watch.Scopes = splitList(v)
			return nil
		})
		fs.Var(&watch.MaxDenials, "max-denials", "rule denials: alert when one partner has more than `N/PERIOD` denials (by the entries' minutes), or off")
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("audit %s takes one URL", cmd)
	}
	base := strings.TrimRight(pos[0], "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("audit %s: %q is not an http(s) URL", cmd, pos[0])
	}
	policy, err := accesslog.ParseWitnessPolicy(verifyOnly(witnesses), *quorum)
	if err != nil {
		return fmt.Errorf("audit %s: --witness: %v", cmd, err)
	}
	if *state == "" {
		prefix := "audit-"
		if cmd == "watch" {
			prefix = "watch-"
		}
		if *state, err = defaultAuditState(prefix, u.Host); err != nil {
			return err
		}
	}
	if cmd == "watch" {
		watch.URL, watch.Key, watch.StateFile, watch.Witnesses = base, *key, *state, policy
		return runWatch(ctx, watch, stdout, stderr)
	}
	var tags map[accesslog.Tag]uint64 // trail: every entry's tag, to its index
	var mk accesslog.MemberKey
	if cmd == "trail" {
		b, err := base64.StdEncoding.DecodeString(memberKey)
		if err != nil || len(b) != len(mk) {
			return fmt.Errorf("audit trail: --member-key must be the %d-byte key in base64, as the privacy center shows it", len(mk))
		}
		copy(mk[:], b)
		tags = map[accesslog.Tag]uint64{}
	}
	var bar *progressBar
	if isTerminal(stderr) {
		bar = &progressBar{w: stderr}
	}
	cfg := accesslog.VerifyConfig{
		URL: base, Key: *key, StateFile: *state, Witnesses: policy,
		Client:   &http.Client{Timeout: time.Minute},
		Progress: bar.update,
	}
	// Every granted access is checked against the agreement history that
	// the log itself holds.
	terms := accesslog.NewCompliance()
	cfg.Agreement = terms.Agreement
	cfg.Entry = func(index uint64, e *accesslog.Entry) {
		terms.Access(index, e)
		if tags != nil {
			tags[e.Tag] = index
		}
	}
	rep, err := accesslog.Verify(ctx, cfg)
	bar.done()
	switch {
	case errors.Is(err, accesslog.ErrTampered):
		return fmt.Errorf("log NOT verified: %w%s", err, startedOver(err, *state))
	case errors.Is(err, accesslog.ErrState):
		return err
	case err != nil:
		return fmt.Errorf("could not check the log: %w", err)
	}
	if cmd == "verify" {
		cp := rep.Checkpoint
		fmt.Fprintf(stdout, "log verified: %s\n  entries: %d\n  root: %s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash[:]))
		if rep.Previous != nil {
			fmt.Fprintf(stdout, "  consistent with the checkpoint of size %d verified %s\n", rep.Previous.Size, rep.Previous.VerifiedAt.Format(time.RFC3339))
		} else {
			fmt.Fprintln(stdout, "  first verification from this machine: the key and checkpoint are now remembered in", *state)
		}
		return printFindings(stdout, rep, terms, "")
	}
	if cmd == "trail" {
		return printTrail(stdout, rep, mk.FindTrail(expect, func(t accesslog.Tag) (uint64, bool) {
			i, ok := tags[t]
			return i, ok
		}), *asJSON)
	}
	counts := rep.Counts[:0:0]
	for _, c := range rep.Counts {
		if partner == "" || c.Partner == partner {
			counts = append(counts, c)
		}
	}
	histories := terms.Sorted()
	if partner != "" {
		histories = slices.DeleteFunc(histories, func(h *accesslog.PartnerHistory) bool { return h.Partner != partner })
	}
	termsProblems := checkTerms(ctx, cfg.Client, base, histories)
	if *asJSON {
		err := printJSON(stdout, map[string]any{"origin": rep.Checkpoint.Origin, "size": rep.Checkpoint.Size, "counts": counts,
			"agreements": nonNilSlice(histories), "findings": nonNilSlice(partnerFindings(terms, partner)), "terms_problems": nonNilSlice(termsProblems)})
		if err == nil {
			err = findingsError(partnerFindings(terms, partner), termsProblems)
		}
		return err
	}
	fmt.Fprintf(stdout, "verified log %s at size %d\n", rep.Checkpoint.Origin, rep.Checkpoint.Size)
	switch {
	case len(counts) == 0 && partner != "":
		fmt.Fprintf(stdout, "no access entries for partner %s: it made no request, granted or denied\n", partner)
	case len(counts) == 0:
		fmt.Fprintln(stdout, "no access entries yet: no partner has made a request")
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "PARTNER\tSCOPE\tDECISION\tREASON\tCOUNT\t")
		for _, c := range counts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", c.Partner, c.Scope, c.Decision, c.Reason, c.N)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	printHistories(stdout, histories)
	for _, p := range termsProblems {
		fmt.Fprintf(stdout, "TERMS: %s\n", p)
	}
	if len(histories) > 0 && len(termsProblems) == 0 {
		fmt.Fprintln(stdout, "  every approved version's terms document, as served now, has the SHA-256 its entry holds")
	}
	return printFindings(stdout, rep, terms, partner)
}

// printHistories prints each partner's agreement history as the log holds
// it.
func printHistories(w io.Writer, histories []*accesslog.PartnerHistory) {
	if len(histories) == 0 {
		fmt.Fprintln(w, "agreements in the log: none")
		return
	}
	fmt.Fprintln(w, "agreements in the log:")
	for _, h := range histories {
		for _, e := range h.Entries {
			fmt.Fprintf(w, "  %s v%d %s %s (entry %d): %s; expires %s\n", h.Partner, e.Version, e.Action,
				e.Time.Format(time.RFC3339), e.Index, strings.Join(e.Scopes, " "), e.Expires.Format(time.RFC3339))
			if e.Action == accesslog.Approved {
				fmt.Fprintf(w, "    terms SHA-256 %x\n", e.TermsHash)
			}
		}
	}
}

// partnerFindings returns the findings, only partner's unless it is "".
func partnerFindings(c *accesslog.Compliance, partner string) []accesslog.Finding {
	if partner == "" {
		return c.Findings
	}
	return slices.DeleteFunc(slices.Clone(c.Findings), func(f accesslog.Finding) bool { return f.Partner != partner })
}

// printFindings says how the granted accesses compare with the agreements
// the log holds, and lists each one outside them; it returns an error when
// there is one.
func printFindings(w io.Writer, rep *accesslog.Report, c *accesslog.Compliance, partner string) error {
	findings := partnerFindings(c, partner)
	fmt.Fprintf(w, "  agreement entries: %d; granted accesses checked against them: %d\n", rep.Agreements, c.Checked)
	if len(findings) == 0 {
		fmt.Fprintln(w, "  every granted access was within the agreement the log held for it")
		return nil
	}
	const show = 20
	fmt.Fprintf(w, "ACCESS OUTSIDE THE LOGGED AGREEMENTS: %d granted accesses\n", len(findings))
	for _, f := range findings[:min(show, len(findings))] {
		fmt.Fprintf(w, "  %s\n", f)
	}
	if len(findings) > show {
		fmt.Fprintf(w, "  … and %d more (--json lists them all)\n", len(findings)-show)
	}
	return findingsError(findings, nil)
}

// findingsError is the command's error when the log shows accesses outside
// their agreements or terms that differ from the logged ones.
func findingsError(findings []accesslog.Finding, termsProblems []string) error {
	switch {
	case len(findings) > 0:
		return fmt.Errorf("the log verifies, but %d granted accesses were outside the agreements it holds", len(findings))
	case len(termsProblems) > 0:
		return fmt.Errorf("the log verifies, but %d agreement versions' terms differ from the logged ones", len(termsProblems))
	}
	return nil
}

// checkTerms fetches the terms document of every approved version that
// the histories hold, from base/api/v1/partners/…/terms, and returns what
// differs from the hash the log holds.
func checkTerms(ctx context.Context, client *http.Client, base string, histories []*accesslog.PartnerHistory) []string {
	remote := accesslog.NewRemote(base, client)
	var problems []string
	for _, h := range histories {
		for _, e := range h.Entries {
			if e.Action != accesslog.Approved {
				continue
			}
			doc, err := remote.ReadTerms(ctx, h.Partner, int(e.Version))
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s v%d: the terms document cannot be read: %v", h.Partner, e.Version, err))
			case sha256.Sum256(doc) != e.TermsHash:
				problems = append(problems, fmt.Sprintf("%s v%d: the served terms hash to %x, but the log's entry %d holds %x: the terms changed after approval",
					h.Partner, e.Version, sha256.Sum256(doc), e.Index, e.TermsHash))
			}
		}
	}
	return problems
}

// printTrail prints a member's trail: the counters found, each with its
// log index, and the counters missing.
func printTrail(w io.Writer, rep *accesslog.Report, tr accesslog.Trail, asJSON bool) error {
	if asJSON {
		return printJSON(w, map[string]any{"origin": rep.Checkpoint.Origin, "size": rep.Checkpoint.Size,
			"found": nonNilSlice(tr.Found), "missing": nonNilSlice(tr.Missing)})
	}
	fmt.Fprintf(w, "verified log %s at size %d\n", rep.Checkpoint.Origin, rep.Checkpoint.Size)
	fmt.Fprintf(w, "entries with your tags: %d\n", len(tr.Found))
	for _, s := range tr.Found {
		fmt.Fprintf(w, "  counter %d at log index %d\n", s.Counter, s.Index)
	}
	if len(tr.Missing) > 0 {
		fmt.Fprintf(w, "MISSING: counters %v have no entry in the log: ask the operator why\n", tr.Missing)
		return fmt.Errorf("%d of your accesses are missing from the log", len(tr.Missing))
	}
	fmt.Fprintln(w, "no gaps: every access counted for you is in the log")
	return nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// startedOver is what to add to err when it says the server's key is not
// the one verified before, kept in state: a log started over on purpose (a
// new demo at the same address) is verified again once that file goes.
func startedOver(err error, state string) string {
	var changed *accesslog.KeyChangedError
	if !errors.As(err, &changed) || !changed.Saved {
		return ""
	}
	return fmt.Sprintf(" (kept in %s; if this server's log was started over on purpose, as a new demo does, remove that file to trust its new key)", state)
}

// defaultAuditState is one state file per server host and kind of state
// (prefix "audit-" or "watch-"), in the user's config folder.
func defaultAuditState(prefix, host string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config folder for the audit state: pass --state (%v)", err)
	}
	return filepath.Join(dir, "glasshouse", prefix+strings.NewReplacer(":", "_", "/", "_").Replace(host)+".json"), nil
}

// verifyOnly returns the witnesses without their URLs: a verifier needs
// only the name and the key, and a URL given is not contacted.
func verifyOnly(witnesses []string) []string {
	out := make([]string, len(witnesses))
	for i, w := range witnesses {
		f := strings.Fields(w)
		out[i] = strings.Join(f[:min(2, len(f))], " ")
	}
	return out
}

// progressBar draws verification progress on a terminal for logs of more
// than 10,000 entries. A nil bar draws nothing.
type progressBar struct {
	w     io.Writer
	drawn bool
	last  time.Time
}

func (b *progressBar) update(done, total uint64) {
	if b == nil || total <= 10000 || (time.Since(b.last) < 100*time.Millisecond && done < total) {
		return
	}
	b.last, b.drawn = time.Now(), true
	const width = 40
	filled := int(done * width / total)
	fmt.Fprintf(b.w, "\rverifying [%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total)
}

func (b *progressBar) done() {
	if b != nil && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
