package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

  create   register a partner and propose agreement version 1; prints the client
           credentials as JSON
  list     list partners with their status and current agreement
  update   propose a new agreement version (new scopes need the operator's approval and
           the members' consent again)
  approve  approve a partner's newest agreement version
  suspend  suspend a partner: refused from its very next request
  resume   lift a suspension

Run 'glasshouse partner COMMAND --help' for a command's flags.
`

// partnerCommands says what each partner command does and what it takes.
var partnerCommands = map[string]command{
	"create":  {"", "Registers a partner app and proposes its agreement version 1. Prints the client\ncredentials as JSON on stdout (the secret is shown once) and a summary on stderr."},
	"list":    {"", "Lists the partner apps with their status and current agreement."},
	"update":  {"CLIENT_ID", "Proposes a new agreement version, changed where the flags say. New scopes need\nthe operator's approval and each member's consent again."},
	"approve": {"CLIENT_ID", "Approves the partner's newest agreement version; it is in force at once."},
	"suspend": {"CLIENT_ID", "Suspends the partner: its very next request is refused."},
	"resume":  {"CLIENT_ID", "Lifts a suspension."},
}

// runPartner runs one operator command on partners.
func runPartner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, args, fs, err := subcommand("partner", partnerUsage, partnerCommands, args, stderr)
	if cmd == "" {
		return err
	}
	loc := storeFlags(fs)
	asJSON := new(bool) // create always prints JSON: scripts read its credentials
	if cmd != "create" {
		asJSON = fs.Bool("json", false, "print JSON")
	}
	var np glasshouse.NewPartner
	var scopes, expires, assessed string
	var retention = -1
	var redirect stringList
	switch cmd {
	case "create":
		fs.StringVar(&np.Name, "name", "", "the app's `NAME`, shown to members (required)")
		fs.Var(&redirect, "redirect-uri", "an allowed OAuth redirect `URI` (required; repeat or comma-separate for several)")
		fs.StringVar(&scopes, "scopes", "", "comma-separated data `SCOPES` (required): "+strings.Join(glasshouse.DataScopes, ", "))
		fs.StringVar(&np.Purpose, "purpose", "", "the `PURPOSE`: what the partner uses the data for, shown on the consent screen (required)")
		fs.Func("retention", "how long the partner keeps the data, in `DAYS` (e.g. 30 or 30d) (required)", daysFlag(&retention))
		fs.StringVar(&expires, "expires", "", "agreement expiry `DATE`, YYYY-MM-DD (default one year from today)")
		fs.StringVar(&assessed, "assessed", "", "`DATE` of the partner's last security assessment, YYYY-MM-DD (required for messages.read)")
	case "update":
		fs.StringVar(&scopes, "scopes", "", "new comma-separated data `SCOPES` (default unchanged): "+strings.Join(glasshouse.DataScopes, ", "))
		fs.StringVar(&np.Purpose, "purpose", "", "new `PURPOSE` (default unchanged)")
		fs.Func("retention", "new retention in `DAYS` (e.g. 30 or 30d) (default unchanged)", daysFlag(&retention))
		fs.StringVar(&expires, "expires", "", "new agreement expiry `DATE`, YYYY-MM-DD (default unchanged)")
		fs.StringVar(&assessed, "assessed", "", "`DATE` of the partner's last security assessment, YYYY-MM-DD (default unchanged)")
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var clientID string
	if partnerCommands[cmd].args != "" {
		if len(positional) != 1 {
			return fmt.Errorf("partner %s takes one client id", cmd)
		}
		clientID = positional[0]
	} else if len(positional) > 0 {
		return fmt.Errorf("unexpected argument %q", positional[0])
	}
	now := time.Now()
	if cmd == "create" {
		if missing := missingFlags(map[string]bool{"name": np.Name == "", "redirect-uri": len(redirect) == 0, "scopes": scopes == "",
			"purpose": np.Purpose == "", "retention": retention < 0}, "name", "redirect-uri", "scopes", "purpose", "retention"); missing != "" {
			return fmt.Errorf("partner create needs %s (see glasshouse partner create --help)", missing)
		}
	}
	np.Scopes, np.RedirectURIs, np.RetentionDays = splitList(scopes), redirect, retention
	defaultExpiry := now.AddDate(1, 0, 0)
	if cmd == "update" {
		defaultExpiry = time.Time{} // unchanged
	}
	if np.ExpiresAt, err = parseDate(expires, defaultExpiry); err != nil {
		return fmt.Errorf("--expires: %w", err)
	}
	if np.SecurityAssessedAt, err = parseDate(assessed, time.Time{}); err != nil {
		return fmt.Errorf("--assessed: %w", err)
	}
	if cmd == "create" {
		if err := np.Validate(now); err != nil {
			return err
		}
	}

	store, err := openExisting(ctx, *loc)
	if err != nil {
		return err
	}
	defer store.Close()
	if cmd == "list" {
		return listPartners(ctx, store, stdout, *asJSON)
	}
	var p *glasshouse.Partner
	var a *glasshouse.Agreement
	var said string // what happened, for people
	switch cmd {
	case "create":
		id, secret := oauth.NewClientCredentials()
		if p, err = store.CreatePartner(ctx, np, id, oauth.HashSecret(secret)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Registered %s with client id %s; agreement v1 (%s) waits for approval: glasshouse partner approve %s\n"+
			"Store the client secret now: it is not shown again.\n", p.Name, p.ClientID, strings.Join(np.Scopes, ", "), p.ClientID)
		return printJSON(stdout, map[string]any{"client_id": p.ClientID, "client_secret": secret, "name": p.Name, "status": p.Status, "agreement_version": 1,
			"note": "Store the secret now: it is not shown again. The agreement takes effect once an operator approves it."})
	case "update":
		if p, a, err = proposeAgreement(ctx, store, clientID, np, now); err != nil {
			return err
		}
		said = fmt.Sprintf("Proposed agreement v%d of %s (%s): scopes %s; it takes effect once approved: glasshouse partner approve %s",
			a.Version, p.Name, p.ClientID, strings.Join(a.Scopes, ", "), p.ClientID)
	case "approve":
		if a, err = store.ApproveAgreement(ctx, clientID, now); err != nil {
			return err
		}
		if p, err = store.PartnerByClientID(ctx, clientID); err != nil {
			return err
		}
		said = fmt.Sprintf("Approved agreement v%d of %s (%s): scopes %s, until %s. It is in force now, and public: the transparency log and /partners show it.",
			a.Version, p.Name, p.ClientID, strings.Join(a.Scopes, ", "), a.ExpiresAt.Format(time.DateOnly))
	case "suspend", "resume":
		status, verb := glasshouse.PartnerSuspended, "Suspended %s (%s): its next request is refused."
		if cmd == "resume" {
			status, verb = glasshouse.PartnerApproved, "Resumed %s (%s): its agreement is in force again."
		}
		if p, err = store.SetPartnerStatus(ctx, clientID, status); err != nil {
			return err
		}
		said = fmt.Sprintf(verb, p.Name, p.ClientID)
	}
	if *asJSON {
		return printJSON(stdout, newPartnerView(p, a, nil))
	}
	_, err = fmt.Fprintln(stdout, said)
	return err
}

// missingFlags names the flags (in order) whose entry in unset is true:
// "--name, --scopes and --purpose".
func missingFlags(unset map[string]bool, order ...string) string {
	var names []string
	for _, n := range order {
		if unset[n] {
			names = append(names, "--"+n)
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// proposeAgreement adds a new agreement version from the latest one, changed
// where the flags say.
func proposeAgreement(ctx context.Context, store glasshouse.PartnerStore, clientID string, np glasshouse.NewPartner, now time.Time) (*glasshouse.Partner, *glasshouse.Agreement, error) {
	p, err := store.PartnerByClientID(ctx, clientID)
	if err != nil {
		return nil, nil, err
	}
	latest, err := store.LatestAgreement(ctx, p.ID)
	if err != nil {
		return nil, nil, err
	}
	a := *latest
	if np.Scopes != nil {
		if err := glasshouse.ValidateScopes(np.Scopes); err != nil {
			return nil, nil, err
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
		return nil, nil, err
	}
	proposed, err := store.ProposeAgreement(ctx, p.ID, a)
	return p, proposed, err
}

// partnerView is a partner as the commands print it in JSON: no internal
// ids, the client id names it.
type partnerView struct {
	ClientID     string         `json:"client_id"`
	Name         string         `json:"name"`
	Status       string         `json:"status"`
	RedirectURIs []string       `json:"redirect_uris"`
	CreatedAt    time.Time      `json:"created_at"`
	Agreement    *agreementView `json:"agreement,omitempty"`         // the one the command acted on, or the current one
	Pending      *agreementView `json:"pending_agreement,omitempty"` // list: a newer version awaiting approval
}

// agreementView is one agreement version in a partnerView.
type agreementView struct {
	Version            int       `json:"version"`
	Scopes             []string  `json:"scopes"`
	Purpose            string    `json:"purpose"`
	RetentionDays      int       `json:"retention_days"`
	ExpiresAt          time.Time `json:"expires_at"`
	SecurityAssessedAt time.Time `json:"security_assessed_at,omitzero"`
	ApprovedAt         time.Time `json:"approved_at,omitzero"`
}

func newPartnerView(p *glasshouse.Partner, a, pending *glasshouse.Agreement) partnerView {
	view := func(a *glasshouse.Agreement) *agreementView {
		if a == nil {
			return nil
		}
		return &agreementView{Version: a.Version, Scopes: a.Scopes, Purpose: a.Purpose, RetentionDays: a.RetentionDays,
			ExpiresAt: a.ExpiresAt, SecurityAssessedAt: a.SecurityAssessedAt, ApprovedAt: a.ApprovedAt}
	}
	return partnerView{ClientID: p.ClientID, Name: p.Name, Status: p.Status, RedirectURIs: p.RedirectURIs, CreatedAt: p.CreatedAt,
		Agreement: view(a), Pending: view(pending)}
}

func listPartners(ctx context.Context, store glasshouse.PartnerStore, w io.Writer, asJSON bool) error {
	ps, err := store.Partners(ctx)
	if err != nil {
		return err
	}
	views := []partnerView{}
	for _, p := range ps {
		current, err := store.CurrentAgreement(ctx, p.ID)
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			return err
		}
		latest, err := store.LatestAgreement(ctx, p.ID)
		if err != nil {
			return err
		}
		if !latest.ApprovedAt.IsZero() {
			latest = nil
		}
		views = append(views, newPartnerView(p, current, latest))
	}
	if asJSON {
		return printJSON(w, views)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tSTATUS\tAGREEMENT\tSCOPES\tEXPIRES")
	for _, v := range views {
		version, scopes, expires := "none", "", ""
		if a := v.Agreement; a != nil {
			version = "v" + strconv.Itoa(a.Version)
			scopes = strings.Join(a.Scopes, ",")
			expires = a.ExpiresAt.Format(time.DateOnly)
		}
		if v.Pending != nil {
			version += fmt.Sprintf(" (v%d pending)", v.Pending.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ClientID, v.Name, v.Status, version, scopes, expires)
	}
	return tw.Flush()
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
