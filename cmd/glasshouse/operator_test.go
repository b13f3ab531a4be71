package main

import (
	"context"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// mustMembers creates members with the given handles in the data folder's
// store, as sign-up would.
func mustMembers(t *testing.T, data string, handles ...string) {
	t.Helper()
	store, err := openStore(context.Background(), storeLocation{data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, h := range handles {
		m := &glasshouse.Member{Handle: h, DisplayName: "Name of " + h, Email: h + "@example.org"}
		if err := store.CreateMember(context.Background(), m, "hash"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOperatorCommands(t *testing.T) {
	data := t.TempDir()
	mustMembers(t, data, "alice", "bob")
	steps := []struct {
		args []string
		want string // in stdout
		not  string // not in stdout
	}{
		{[]string{"operator", "list", "--data", data}, "HANDLE", "@alice"},
		{[]string{"operator", "add", "alice", "--data", data}, "@alice is now an operator", ""},
		{[]string{"operator", "add", "--data", data, "@Bob"}, "@bob is now an operator", ""},
		{[]string{"operator", "list", "--data", data}, "@alice  Name of alice", ""},
		{[]string{"operator", "remove", "bob", "--data", data}, "@bob is no longer an operator", ""},
		{[]string{"operator", "list", "--data", data}, "@alice", "@bob"},
		{[]string{"operator", "list", "--json", "--data", data}, `"handle": "alice"`, "bob"},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if err != nil {
			t.Fatalf("%v: %v", s.args, err)
		}
		if !strings.Contains(out, s.want) || (s.not != "" && strings.Contains(out, s.not)) {
			t.Fatalf("%v printed %q, want it to contain %q and not %q", s.args, out, s.want, s.not)
		}
	}
}

func TestOperatorCommandErrors(t *testing.T) {
	data := t.TempDir()
	mustMembers(t, data, "alice", "bob")
	if _, err := runCLI(t, "operator", "add", "alice", "--data", data); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", []string{"operator"}, "missing operator command"},
		{"UnknownCommand", []string{"operator", "promote", "bob"}, "unknown operator command"},
		{"MissingHandle", []string{"operator", "add", "--data", data}, "takes one handle"},
		{"TwoHandles", []string{"operator", "add", "alice", "bob", "--data", data}, "takes one handle"},
		{"ListWithHandle", []string{"operator", "list", "alice", "--data", data}, `unexpected argument "alice"`},
		{"UnknownMember", []string{"operator", "add", "zoe", "--data", data}, "No member has the handle @zoe"},
		{"AlreadyOperator", []string{"operator", "add", "alice", "--data", data}, "@alice is already an operator"},
		{"NotOperator", []string{"operator", "remove", "bob", "--data", data}, "@bob is not an operator"},
		{"BadDB", []string{"operator", "list", "--db", "mysql://x"}, "--db must be"},
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
	if out, _ := runCLI(t, "operator", "list", "--data", data); !strings.Contains(out, "@alice") || strings.Contains(out, "@bob") {
		t.Errorf("after the failures, list printed %q; want alice alone", out)
	}
}
