package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

// applyEnv sets each flag from GLASSHOUSE_<NAME> where that is set, so that
// command-line flags, parsed after, win.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "GLASSHOUSE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %v", name, e)
			}
		}
	})
	return err
}

// command is one command of a group, `glasshouse GROUP COMMAND`: what its
// --help says of it.
type command struct {
	args    string // its positional arguments, for the usage line: "CLIENT_ID"
	summary string // what it does
}

// subcommand takes the command word of `glasshouse GROUP COMMAND ...` and
// returns the command, its arguments and a flag set for it whose --help
// prints the command's usage line, summary and flags. For help on the group
// it prints usage and returns cmd "" and no error; for a missing or unknown
// command it prints usage and fails.
func subcommand(group, usage string, commands map[string]command, args []string, stderr io.Writer) (cmd string, rest []string, fs *flag.FlagSet, err error) {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return "", nil, nil, fmt.Errorf("missing %s command", group)
		}
		return "", nil, nil, nil
	}
	cmd = args[0]
	c, ok := commands[cmd]
	if !ok {
		fmt.Fprint(stderr, usage)
		return "", nil, nil, fmt.Errorf("unknown %s command %q", group, cmd)
	}
	fs = flag.NewFlagSet("glasshouse "+group+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: glasshouse %s %s [flags]\n\n%s\n\nFlags (each also read from GLASSHOUSE_<NAME>):\n", group, strings.TrimSpace(cmd+" "+c.args), c.summary)
		fs.PrintDefaults()
	}
	return cmd, args[1:], fs, nil
}

// storeFlags adds the flags that say where the store of a command that
// opens it is: serve's --data, --db and --storage-key-file.
func storeFlags(fs *flag.FlagSet) *storeLocation {
	var l storeLocation
	fs.StringVar(&l.data, "data", "./glasshouse-data", "data `FOLDER`, as 'glasshouse serve' has it")
	fs.StringVar(&l.db, "db", "", "`DATABASE`: sqlite:PATH or a postgres:// URL, as 'glasshouse serve' has it (default sqlite under --data)")
	fs.StringVar(&l.storageKey, "storage-key-file", "", "`FILE` of the storage key, as 'glasshouse serve' has it (default DATA/storage.key)")
	return &l
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

// witnessList is the repeatable --witness flag: each value one witness,
// "NAME VKEY URL", or several separated by ';' or new lines (as one
// environment variable holds them).
type witnessList []string

func (l *witnessList) String() string { return strings.Join(*l, "; ") }
func (l *witnessList) Set(s string) error {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		if w = strings.TrimSpace(w); w != "" {
			if _, err := accesslog.ParseWitness(w); err != nil {
				return err
			}
			*l = append(*l, w)
		}
	}
	return nil
}

// witnessesOf returns p's witnesses (none for a nil policy).
func witnessesOf(p *accesslog.WitnessPolicy) []accesslog.Witness {
	if p == nil {
		return nil
	}
	return p.Witnesses
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

// daysFlag reads a number of days, with an optional "d", into days.
func daysFlag(days *int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return errors.New("want a number of days, such as 30 or 30d")
		}
		*days = n
		return nil
	}
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
