package testbin

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the program name: $env if set, Debian's
// /usr/sbin/name (off a user's PATH), or name on PATH. When there is none
// it skips the test, or fails it under CI (CI set), where .ci/run installs
// the Debian package pkg.
func Require(tb testing.TB, name, env, pkg string) string {
	tb.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/sbin/" + name); err == nil {
		return "/usr/sbin/" + name
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("testbin: %s is missing (apt-get install %s; .ci/run installs it)", name, pkg)
	}
	tb.Skipf("testbin: %s is missing (apt-get install %s)", name, pkg)
	return ""
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
