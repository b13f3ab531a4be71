package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/glasshouse/glasshouse"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "glasshouse:", cliMessage(err))
		os.Exit(1)
	}
}

// cliMessage is the one line a failed command prints: a coded error's human
// message, or the error itself.
func cliMessage(err error) string {
	if code := glasshouse.ErrorCode(err); code != glasshouse.EINTERNAL {
		return glasshouse.ErrorMessage(err)
	}
	return err.Error()
}

const usage = `glasshouse: a social messaging platform partners can be held to account on.

Usage:
  glasshouse serve   [flags]   run the server
  glasshouse demo    [flags]   seed the demo world once, then run the server
  glasshouse partner COMMAND   operator commands on partner apps (create, list, update,
                               approve, suspend, resume)
  glasshouse operator COMMAND  members who may use the /admin pages (add, remove, list)
  glasshouse audit verify URL  verify a server's transparency log, and every granted
                               access against the agreements the log holds
  glasshouse audit report URL  verify it, then count accesses per partner and scope,
                               and list each partner's logged agreements
  glasshouse audit trail URL   verify it, then find one member's own entries with
                               their member key (from their privacy center)
  glasshouse audit watch URL   follow the log as a monitor: alerts, metrics, forks
  glasshouse bench   [flags]   measure messaging (or, with --graph, Graph API)
                               throughput and latency over HTTP
  glasshouse version           print the version

Run 'glasshouse COMMAND --help' for a command's flags. Every flag can also be
set by the environment variable GLASSHOUSE_<FLAG> (for example GLASSHOUSE_ADDR).
`

// run dispatches a subcommand. It is main without the process exit, so that
// tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve", "demo":
		m := NewMain()
		m.Stdout = stdout
		if err := m.ParseFlags(cmd, rest, stderr); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "version":
		fmt.Fprintln(stdout, "glasshouse", version)
		return nil
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "partner":
		return runPartner(ctx, rest, stdout, stderr)
	case "operator":
		return runOperator(ctx, rest, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
