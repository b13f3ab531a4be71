package main

import (
	"bytes"
	"context"
	"encoding/json"
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

func TestPartnerCommands(t *testing.T) {
	data := t.TempDir()
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
		{[]string{"partner", "approve", id, "--data", data}, `"version": 1`},
		{[]string{"partner", "list", "--data", data}, "approved"},
		{[]string{"partner", "suspend", "--data", data, id}, `"status": "suspended"`},
		{[]string{"partner", "resume", "--data", data, id}, `"status": "approved"`},
		{[]string{"partner", "update", id, "--data", data, "--scopes", "messages.send,messages.read", "--assessed", "2026-10-01"}, `"version": 2`},
		{[]string{"partner", "list", "--data", data}, "v1 (v2 pending)"},
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
	if out, _ := runCLI(t, "partner", "list", "--data", data, "--json"); !strings.Contains(out, `"client_id": "`+id+`"`) || strings.Contains(out, "secret") {
		t.Errorf("list --json printed %q", out)
	}
}

func TestPartnerCommandErrors(t *testing.T) {
	data := t.TempDir()
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
		{"NoScopes", create(), "At least one scope"},
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
