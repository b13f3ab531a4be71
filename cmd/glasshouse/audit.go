package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

const auditUsage = `Usage: glasshouse audit verify URL [flags]
       glasshouse audit report URL [--partner CLIENT_ID] [--json] [flags]
       glasshouse audit trail URL --member-key KEY [--count N] [--json] [flags]

Auditor commands against a running server's transparency log (URL/log/...).

  verify   check the signed checkpoint, its consistency with the last checkpoint
           this machine verified (kept in --state), and the whole tree
           recomputed from every entry; fails naming what differs
  report   verify, then count the entries per partner, scope and decision
  trail    verify, then find a member's own entries by recomputing their tags
           with their member key (the privacy center shows it) and list the
           counters 1..N (their access count) that have no entry

Run 'glasshouse audit COMMAND --help' for the flags.
`

// auditCommands says what each audit command does and what it takes.
var auditCommands = map[string]command{
	"verify": {"URL", "Checks the signed checkpoint of the log served at URL/log/, its consistency with\nthe last checkpoint this machine verified (kept in --state), and the whole tree\nrecomputed from every entry; fails naming what differs."},
	"report": {"URL", "Verifies the log, then counts its entries per partner, scope and decision."},
	"trail":  {"URL", "Verifies the log, then finds one member's own entries by recomputing their tags\nwith their member key, and names the counters 1..N (their access count) that\nhave no entry. The member's privacy center shows the key, the count and this\ncommand, ready to copy."},
}

// runAudit verifies a server's log and reports on it.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, args, fs, err := subcommand("audit", auditUsage, auditCommands, args, stderr)
	if cmd == "" {
		return err
	}
	key := fs.String("key", "", "the log's verifier `KEY` (note form) you trust; default: the one in --state, or on a first run the one the server publishes")
	state := fs.String("state", "", "`FILE` keeping the last verified checkpoint (default: under the user's config folder, one per server)")
	var partner, memberKey string
	var expect uint64
	asJSON := new(bool)
	switch cmd {
	case "report":
		fs.StringVar(&partner, "partner", "", "only this partner (`CLIENT_ID`)")
		asJSON = fs.Bool("json", false, "print JSON")
	case "trail":
		fs.StringVar(&memberKey, "member-key", "", "the member's `KEY` (base64), from their privacy center (required)")
		fs.Uint64Var(&expect, "count", 0, "the member's access count `N`, from their privacy center: counters 1..N must all be found")
		asJSON = fs.Bool("json", false, "print JSON")
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
	if *state == "" {
		if *state, err = defaultAuditState(u.Host); err != nil {
			return err
		}
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
		URL: base, Key: *key, StateFile: *state,
		Client:   &http.Client{Timeout: time.Minute},
		Progress: bar.update,
	}
	if tags != nil {
		cfg.Entry = func(index uint64, e *accesslog.Entry) { tags[e.Tag] = index }
	}
	rep, err := accesslog.Verify(ctx, cfg)
	bar.done()
	switch {
	case errors.Is(err, accesslog.ErrTampered):
		return fmt.Errorf("log NOT verified: %w", err)
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
		return nil
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
	if *asJSON {
		return printJSON(stdout, map[string]any{"origin": rep.Checkpoint.Origin, "size": rep.Checkpoint.Size, "counts": counts})
	}
	fmt.Fprintf(stdout, "verified log %s at size %d\n", rep.Checkpoint.Origin, rep.Checkpoint.Size)
	if len(counts) == 0 {
		if partner != "" {
			_, err := fmt.Fprintf(stdout, "no entries for partner %s: it made no request, granted or denied\n", partner)
			return err
		}
		_, err := fmt.Fprintln(stdout, "no entries yet: no partner has made a request")
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PARTNER\tSCOPE\tDECISION\tREASON\tCOUNT\t")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", c.Partner, c.Scope, c.Decision, c.Reason, c.N)
	}
	return tw.Flush()
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

// defaultAuditState is one state file per server host, in the user's
// config folder.
func defaultAuditState(host string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config folder for the audit state: pass --state (%v)", err)
	}
	return filepath.Join(dir, "glasshouse", "audit-"+strings.NewReplacer(":", "_", "/", "_").Replace(host)+".json"), nil
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
