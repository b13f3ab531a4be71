package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs one command in-process and returns its stdout and error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

// newDataFolder starts a deployment in a new data folder, as the first
// `glasshouse serve` does, and returns the folder.
func newDataFolder(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	store, err := openStore(context.Background(), storeLocation{data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	return data
}

func TestPartnerCommands(t *testing.T) {
	data := newDataFolder(t)
	out, err := runCLI(t, "partner", "create", "--data", data, "--name", "Streamflix",
		"--redirect-uri", "https://streamflix.example/callback", "--scopes", "messages.send,profile",
		"--purpose", "Share what you watch with a friend", "--retention", "30d")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Status       string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create output %q: %v", out, err)
	}
	if created.ClientID == "" || len(created.ClientSecret) < 40 || created.Status != "pending" {
		t.Fatalf("create printed %+v", created)
	}
	id := created.ClientID

	steps := []struct {
		args []string
		want string // in stdout
	}{
		{[]string{"partner", "list", "--data", data}, "none (v1 pending)"},
		{[]string{"partner", "approve", id, "--data", data}, "Approved agreement v1 of Streamflix (" + id + "): scopes profile, messages.send"},
		{[]string{"partner", "list", "--data", data}, "approved"},
		{[]string{"partner", "suspend", "--data", data, id}, "Suspended Streamflix"},
		{[]string{"partner", "resume", "--data", data, id, "--json"}, `"status": "approved"`},
		{[]string{"partner", "update", id, "--data", data, "--scopes", "messages.send,messages.read", "--assessed", "2026-10-01"}, "Proposed agreement v2 of Streamflix"},
		{[]string{"partner", "list", "--data", data}, "v1 (v2 pending)"},
		{[]string{"partner", "approve", id, "--data", data, "--json"}, `"version": 2`},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if err != nil {
			t.Fatalf("%v: %v", s.args, err)
		}
		if !strings.Contains(out, s.want) {
			t.Fatalf("%v printed %q, want it to contain %q", s.args, out, s.want)
		}
	}
	// JSON output names partners by client id only: no internal ids.
	for _, args := range [][]string{{"list", "--json"}, {"update", id, "--json", "--retention", "7"}, {"suspend", id, "--json"}} {
		out, err := runCLI(t, append(append([]string{"partner"}, args...), "--data", data)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out, `"client_id": "`+id+`"`) || strings.Contains(out, "secret") || strings.Contains(out, `"id"`) || strings.Contains(out, `"partner_id"`) {
			t.Errorf("partner %v printed %s", args, out)
		}
	}
}

// TestCommandsNeedADeployment runs the operator commands where there is no
// deployment: each refuses in one line naming the folder it looked at, and
// creates nothing.
func TestCommandsNeedADeployment(t *testing.T) {
	empty := t.TempDir()
	t.Chdir(empty)
	missing := filepath.Join(empty, "nowhere")
	for _, args := range [][]string{
		{"partner", "list"},
		{"partner", "list", "--data", missing},
		{"partner", "approve", "streamflix", "--data", empty},
		{"operator", "list"},
		{"operator", "add", "alice", "--data", missing},
		{"partner", "create", "--name", "Shopzon", "--redirect-uri", "https://shopzon.example/cb", "--scopes", "profile",
			"--purpose", "Send you your order confirmations", "--retention", "90"},
	} {
		_, err := runCLI(t, args...)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		msg := cliMessage(err)
		if !strings.Contains(msg, empty) || strings.Contains(msg, "\n") {
			t.Errorf("%v: %q, want one line naming the folder", args, msg)
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("the commands created %v", ents)
	}
}

// TestPartnerHelp checks each partner command's --help lists its own flags
// only, without Go's "(default 0)" for flags that have no default.
func TestPartnerHelp(t *testing.T) {
	for cmd, want := range map[string][]string{
		"create":  {"-name NAME", "-redirect-uri URI", "-retention DAYS", "-scopes SCOPES"},
		"approve": {"Usage: glasshouse partner approve CLIENT_ID [flags]", "-json"},
		"list":    {"-json"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"partner", cmd, "--help"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("partner %s --help: %v", cmd, err)
		}
		help := errOut.String()
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("partner %s --help lacks %q:\n%s", cmd, w, help)
			}
		}
		if strings.Contains(help, "(default 0)") || (cmd != "create" && cmd != "update" && strings.Contains(help, "-scopes")) || (cmd == "create" && strings.Contains(help, "-json")) {
			t.Errorf("partner %s --help lists flags it does not take:\n%s", cmd, help)
		}
	}
}

func TestPartnerCommandErrors(t *testing.T) {
	data := newDataFolder(t)
	create := func(extra ...string) []string {
		return append([]string{"partner", "create", "--data", data, "--name", "Shopzon", "--redirect-uri", "https://shopzon.example/cb",
			"--purpose", "Send you your order confirmations", "--retention", "90"}, extra...)
	}
	out, err := runCLI(t, create("--scopes", "profile,messages.read")...)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(out), &p)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", []string{"partner"}, "missing partner command"},
		{"UnknownCommand", []string{"partner", "frob"}, "unknown partner command"},
		{"UnknownScope", create("--scopes", "inbox"), `Unknown scope "inbox"`},
		{"NoScopes", create(), "needs --scopes"},
		{"NothingGiven", []string{"partner", "create", "--data", data}, "needs --name, --redirect-uri, --scopes, --purpose and --retention"},
		{"HTTPRedirect", []string{"partner", "create", "--data", data, "--name", "Shopzon", "--redirect-uri", "http://shopzon.example/cb", "--scopes", "profile", "--purpose", "Order confirmations", "--retention", "90"}, "must use https"},
		{"BadRetention", create("--scopes", "profile", "--retention", "forever"), "number of days"},
		{"BadDate", create("--scopes", "profile", "--expires", "soon"), "want a date"},
		{"ReadWithoutAssessment", []string{"partner", "approve", p.ClientID, "--data", data}, "security assessment"},
		{"UnknownPartner", []string{"partner", "suspend", "nope", "--data", data}, "Partner not found"},
		{"MissingID", []string{"partner", "approve", "--data", data}, "takes one client id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := cliMessage(err); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line containing %q", msg, tt.want)
			}
		})
	}
	// Nothing was half-written: still exactly the one partner.
	if out, _ := runCLI(t, "partner", "list", "--data", data, "--json"); strings.Count(out, `"client_id"`) != 1 {
		t.Errorf("after the failures, list printed %s", out)
	}
}
