package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
)

const partnerUsage = `Usage: glasshouse partner COMMAND [flags]

Operator commands on partner apps and their agreements. They work on the same
--data / --db as 'glasshouse serve', also while it runs.

  create   register a partner and propose agreement version 1; prints the client credentials
  list     list partners with their status and current agreement
  update   propose a new agreement version (new scopes need the operator's approval and
           the members' consent again)
  approve  approve a partner's newest agreement version
  suspend  suspend a partner: refused from its very next request
  resume   lift a suspension

Run 'glasshouse partner COMMAND --help' for a command's flags.
`

// runPartner runs one operator command on partners.
func runPartner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, args, fs, err := subcommand("partner", partnerUsage, args, stderr, "create", "update", "list", "approve", "suspend", "resume")
	if cmd == "" {
		return err
	}
	data, db := storeFlags(fs)
	var (
		np       glasshouse.NewPartner
		scopes   = fs.String("scopes", "", "comma-separated data scopes: "+strings.Join(glasshouse.DataScopes, ", "))
		redirect stringList
		expires  = fs.String("expires", "", "agreement expiry date, YYYY-MM-DD (create: default one year from today; update: unchanged)")
		assessed = fs.String("assessed", "", "date of the partner's last security assessment, YYYY-MM-DD (required for messages.read)")
		asJSON   = fs.Bool("json", false, "list: print JSON")
	)
	needsID := true
	switch cmd {
	case "create":
		needsID = false
		fs.StringVar(&np.Name, "name", "", "the app's name, shown to members")
		fs.Var(&redirect, "redirect-uri", "an allowed OAuth redirect URI (repeat or comma-separate for several)")
		fs.StringVar(&np.Purpose, "purpose", "", "what the partner uses the data for, shown on the consent screen")
		fs.Var(retentionFlag{&np.RetentionDays}, "retention", "how long the partner keeps the data, in days (e.g. 30 or 30d)")
	case "update":
		fs.StringVar(&np.Purpose, "purpose", "", "new purpose (default: unchanged)")
		np.RetentionDays = -1
		fs.Var(retentionFlag{&np.RetentionDays}, "retention", "new retention in days (default: unchanged)")
	case "list":
		needsID = false
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var clientID string
	if needsID {
		if len(positional) != 1 {
			return fmt.Errorf("partner %s takes one client id", cmd)
		}
		clientID = positional[0]
	} else if len(positional) > 0 {
		return fmt.Errorf("unexpected argument %q", positional[0])
	}
	now := time.Now()
	if *scopes != "" {
		np.Scopes = splitList(*scopes)
	}
	defaultExpiry := now.AddDate(1, 0, 0)
	if cmd == "update" {
		defaultExpiry = time.Time{} // unchanged
	}
	if np.ExpiresAt, err = parseDate(*expires, defaultExpiry); err != nil {
		return fmt.Errorf("--expires: %w", err)
	}
	if np.SecurityAssessedAt, err = parseDate(*assessed, time.Time{}); err != nil {
		return fmt.Errorf("--assessed: %w", err)
	}
	np.RedirectURIs = redirect

	store, err := openStore(ctx, *data, *db, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	var out any
	switch cmd {
	case "create":
		if err := np.Validate(now); err != nil {
			return err
		}
		id, secret := oauth.NewClientCredentials()
		p, err := store.CreatePartner(ctx, np, id, oauth.HashSecret(secret))
		if err != nil {
			return err
		}
		out = map[string]any{"client_id": p.ClientID, "client_secret": secret, "name": p.Name, "status": p.Status, "agreement_version": 1,
			"note": "Store the secret now: it is not shown again. The agreement takes effect once an operator approves it."}
	case "list":
		return listPartners(ctx, store, stdout, *asJSON)
	case "update":
		if out, err = proposeAgreement(ctx, store, clientID, np, now); err != nil {
			return err
		}
	case "approve":
		if out, err = store.ApproveAgreement(ctx, clientID, now); err != nil {
			return err
		}
	case "suspend", "resume":
		status := glasshouse.PartnerSuspended
		if cmd == "resume" {
			status = glasshouse.PartnerApproved
		}
		if out, err = store.SetPartnerStatus(ctx, clientID, status); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// proposeAgreement adds a new agreement version from the latest one, changed
// where the flags say.
func proposeAgreement(ctx context.Context, store glasshouse.PartnerStore, clientID string, np glasshouse.NewPartner, now time.Time) (*glasshouse.Agreement, error) {
	p, err := store.PartnerByClientID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	latest, err := store.LatestAgreement(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	a := *latest
	if np.Scopes != nil {
		if err := glasshouse.ValidateScopes(np.Scopes); err != nil {
			return nil, err
		}
		a.Scopes = np.Scopes
	}
	if np.Purpose != "" {
		a.Purpose = np.Purpose
	}
	if np.RetentionDays >= 0 {
		a.RetentionDays = np.RetentionDays
	}
	if !np.ExpiresAt.IsZero() {
		a.ExpiresAt = np.ExpiresAt
	}
	if !np.SecurityAssessedAt.IsZero() {
		a.SecurityAssessedAt = np.SecurityAssessedAt
	}
	check := glasshouse.NewPartner{Name: p.Name, RedirectURIs: p.RedirectURIs, Scopes: a.Scopes, Purpose: a.Purpose,
		RetentionDays: a.RetentionDays, ExpiresAt: a.ExpiresAt, SecurityAssessedAt: a.SecurityAssessedAt}
	if err := check.Validate(now); err != nil {
		return nil, err
	}
	return store.ProposeAgreement(ctx, p.ID, a)
}

// partnerView is one row of `partner list`.
type partnerView struct {
	*glasshouse.Partner
	Current *glasshouse.Agreement `json:"current_agreement"`
	Pending *glasshouse.Agreement `json:"pending_agreement,omitempty"`
}

func listPartners(ctx context.Context, store glasshouse.PartnerStore, w io.Writer, asJSON bool) error {
	ps, err := store.Partners(ctx)
	if err != nil {
		return err
	}
	views := []partnerView{}
	for _, p := range ps {
		v := partnerView{Partner: p}
		if v.Current, err = store.CurrentAgreement(ctx, p.ID); err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return err
		}
		latest, err := store.LatestAgreement(ctx, p.ID)
		if err != nil {
			return err
		}
		if latest.ApprovedAt.IsZero() {
			v.Pending = latest
		}
		views = append(views, v)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tSTATUS\tAGREEMENT\tSCOPES\tEXPIRES")
	for _, v := range views {
		version, scopes, expires := "none", "", ""
		if v.Current != nil {
			version = "v" + strconv.Itoa(v.Current.Version)
			scopes = strings.Join(v.Current.Scopes, ",")
			expires = v.Current.ExpiresAt.Format(time.DateOnly)
		}
		if v.Pending != nil {
			version += fmt.Sprintf(" (v%d pending)", v.Pending.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ClientID, v.Name, v.Status, version, scopes, expires)
	}
	return tw.Flush()
}

// subcommand takes the command word of `glasshouse GROUP COMMAND ...` and
// returns the command, its arguments and a flag set for it. For help it
// prints usage and returns cmd "" and no error; for a missing or unknown
// command (one not in commands, when given) it prints usage and fails.
func subcommand(group, usage string, args []string, stderr io.Writer, commands ...string) (cmd string, rest []string, fs *flag.FlagSet, err error) {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return "", nil, nil, fmt.Errorf("missing %s command", group)
		}
		return "", nil, nil, nil
	}
	cmd = args[0]
	if len(commands) > 0 && !slices.Contains(commands, cmd) {
		fmt.Fprint(stderr, usage)
		return "", nil, nil, fmt.Errorf("unknown %s command %q", group, cmd)
	}
	fs = flag.NewFlagSet("glasshouse "+group+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return cmd, args[1:], fs, nil
}

// storeFlags adds the flags that name the database of a command that
// opens the store.
func storeFlags(fs *flag.FlagSet) (data, db *string) {
	return fs.String("data", "./glasshouse-data", "data folder"),
		fs.String("db", "", "database: sqlite:PATH or a postgres:// URL (default sqlite under --data)")
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("approve ID --data D" as well as "approve --data D ID").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// stringList is a repeatable, comma-separable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// retentionFlag reads a number of days, with an optional "d".
type retentionFlag struct{ days *int }

func (f retentionFlag) String() string {
	if f.days == nil {
		return ""
	}
	return strconv.Itoa(*f.days)
}
func (f retentionFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil {
		return errors.New("want a number of days, such as 30 or 30d")
	}
	*f.days = n
	return nil
}

func parseDate(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("want a date such as 2027-06-30")
	}
	return t, nil
}
