package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse"
)

const operatorUsage = `Usage: glasshouse operator COMMAND [HANDLE] [flags]

Operators are members who may use the operator pages (/admin): approve
agreements, suspend and resume partners. These commands work on the same
--data / --db as 'glasshouse serve', also while it runs.

  add HANDLE     make a member an operator
  remove HANDLE  withdraw a member's operator rights
  list           list the operators

Flags: --data DIR, --db sqlite:PATH|postgres://..., --json (list).
`

// operatorCommands says what each operator command does and what it takes.
var operatorCommands = map[string]command{
	"add":    {"HANDLE", "Makes a member an operator: /admin is open to them once signed in."},
	"remove": {"HANDLE", "Withdraws a member's operator rights."},
	"list":   {"", "Lists the operators."},
}

// runOperator runs one command on operator accounts.
func runOperator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, args, fs, err := subcommand("operator", operatorUsage, operatorCommands, args, stderr)
	if cmd == "" {
		return err
	}
	loc := storeFlags(fs)
	asJSON := new(bool)
	if cmd == "list" {
		asJSON = fs.Bool("json", false, "print JSON")
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var handle string
	switch {
	case cmd == "list" && len(positional) > 0:
		return fmt.Errorf("unexpected argument %q", positional[0])
	case cmd != "list" && len(positional) != 1:
		return fmt.Errorf("operator %s takes one handle", cmd)
	case cmd != "list":
		handle = strings.TrimPrefix(strings.ToLower(positional[0]), "@")
	}

	store, err := openExisting(ctx, *loc)
	if err != nil {
		return err
	}
	defer store.Close()
	if cmd == "list" {
		ops, err := store.Operators(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, ops)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tNAME\tSINCE")
		for _, o := range ops {
			fmt.Fprintf(tw, "@%s\t%s\t%s\n", o.Member.Handle, o.Member.DisplayName, o.GrantedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	m, err := store.MemberByHandle(ctx, handle)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return glasshouse.Errorf(glasshouse.ENOTFOUND, "No member has the handle @%s.", handle)
	} else if err != nil {
		return err
	}
	if err := store.SetOperator(ctx, m.ID, cmd == "add"); err != nil {
		return err
	}
	if cmd == "add" {
		fmt.Fprintf(stdout, "@%s is now an operator: /admin is open to them once signed in.\n", m.Handle)
	} else {
		fmt.Fprintf(stdout, "@%s is no longer an operator.\n", m.Handle)
	}
	return nil
}
