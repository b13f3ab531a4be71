package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// conformanceDir is the Node project of the openid-client conformance run.
var conformanceDir = filepath.Join("..", "..", "oauth", "testdata", "conformance")

// conformanceTimeout bounds the Node process: generous, since it makes a
// few dozen requests and a busy machine is slow, not failing.
const conformanceTimeout = 4 * time.Minute

// TestOpenIDClientConformance runs the authorization server and the Graph
// API against a client library nobody here wrote: Node's openid-client (v6,
// pinned by oauth/testdata/conformance/package-lock.json, installed by
// .ci/run with npm ci). The script signs the member in and consents over
// HTTP (the pages' forms and CSRF tokens, with a cookie jar), then runs
// discovery (OpenID Connect and RFC 8414), the code flow with PKCE S256,
// state and nonce and the ID token checked by the library (signature
// against the JWKS too), userinfo, GET /graph/v1/me with its receipt,
// introspection, prompt=none, an unsupported response type, refresh with
// rotation, the replay of the old refresh token (invalid_grant, the family
// revoked), revocation (RFC 7009) and wrong client secrets. Any error
// openid-client raises fails its step, and any failed step fails the test
// with the script's whole output.
//
// Without node it skips with one line, except in CI (CI set), where a
// missing node or node_modules fails it.
func TestOpenIDClientConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("openid-client conformance: skipped in -short mode (runs a Node process)")
	}
	dir, err := filepath.Abs(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatal("openid-client conformance: " + msg + " (.ci/run installs it with npm ci)")
		}
		t.Skip("openid-client conformance: " + msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed: install Node 20 or later, then run npm ci in " + dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client", "package.json")); err != nil {
		missing("openid-client is not installed: run npm ci in " + dir)
	}

	m := MustRunMain(t)
	// An http loopback redirect URI, as a native app registers (RFC 8252
	// §7.3). Nothing listens there: the member's browser in the script
	// stops at the redirect and hands its URL to openid-client.
	const redirect = "http://127.0.0.1:8976/conformance/callback"
	const scopes = "profile,friends"
	creds := mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Conformance",
		"--redirect-uri", redirect, "--scopes", scopes,
		"--purpose", "Check the protocol with an independent client library", "--retention", "0")
	// The member who connects the app, and a friend.
	w := newTestWorld(t, m.URL())
	alice, bob := w.member("alice"), w.member("bob")
	w.befriend(alice, bob, "bob")

	timeout := conformanceTimeout
	if end, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(end)-10*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "conformance.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GLASSHOUSE_ISSUER="+m.URL(),
		"GLASSHOUSE_CLIENT_ID="+creds.ClientID,
		"GLASSHOUSE_CLIENT_SECRET="+creds.ClientSecret,
		"GLASSHOUSE_REDIRECT_URI="+redirect,
		"GLASSHOUSE_HANDLE=alice",
		"GLASSHOUSE_PASSWORD=alice-bench-password", // benchClient.member's
		"GLASSHOUSE_SCOPES="+scopes,
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 10 * time.Second
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openid-client conformance: the script did not finish within %v; its output:\n%s", timeout, output.String())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("openid-client conformance failed (%v); the script's output:\n%s", err, output.String())
	} else if err != nil {
		t.Fatalf("openid-client conformance: run %s: %v\n%s", node, err, output.String())
	}
	t.Logf("openid-client conformance:\n%s", output.String())

	// After the replays, revocations and wrong secrets, the log still
	// verifies, and holds an entry for every recorded Graph call.
	p, err := m.Store.PartnerByClientID(context.Background(), creds.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := m.Store.PartnerAccessTotals(context.Background(), p.ID)
	if err != nil || recorded.Granted == 0 || recorded.Denied == 0 {
		t.Fatalf("the run recorded %+v (%v), want granted and denied calls", recorded, err)
	}
	waitForLog(t, m, uint64(recorded.All()))
	if out, err := runCLI(t, "audit", "report", m.URL(), "--partner", creds.ClientID, "--state", filepath.Join(t.TempDir(), "state.json")); err != nil {
		t.Fatalf("audit report after the conformance run: %v\n%s", err, out)
	} else if !strings.Contains(out, "granted") || !strings.Contains(out, "denied") {
		t.Errorf("audit report after the conformance run:\n%s", out)
	}
}
