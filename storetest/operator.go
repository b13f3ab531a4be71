package storetest

import (
	"testing"

	"github.com/glasshouse/glasshouse"
)

var operatorTests = []test{
	{"SetAndList", testSetOperator},
	{"Errors", testSetOperatorErrors},
}

// wantOperator checks IsOperator for m.
func wantOperator(t *testing.T, s glasshouse.Store, m *glasshouse.Member, want bool) {
	t.Helper()
	ok, err := s.IsOperator(t.Context(), m.ID)
	must(t, err)
	if ok != want {
		t.Errorf("IsOperator(%s) = %v, want %v", m.Handle, ok, want)
	}
}

// operatorHandles lists the operators' handles, sorted, and checks that
// the store listed them the longest-serving first.
func operatorHandles(t *testing.T, s glasshouse.Store) []string {
	t.Helper()
	ops, err := s.Operators(t.Context())
	must(t, err)
	var ms []*glasshouse.Member
	for i, o := range ops {
		if o.GrantedAt.IsZero() || o.Member.ID == 0 {
			t.Errorf("Operators: %+v has no grant time or member id", o)
		}
		if i > 0 && o.GrantedAt.Before(ops[i-1].GrantedAt) {
			t.Errorf("Operators: %s (since %v) listed after %s (since %v)", o.Member.Handle, o.GrantedAt, ops[i-1].Member.Handle, ops[i-1].GrantedAt)
		}
		ms = append(ms, o.Member)
	}
	return sortedHandles(ms)
}

func testSetOperator(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	if got := operatorHandles(t, s); len(got) != 0 {
		t.Fatalf("Operators of a new store = %v, want none", got)
	}
	wantOperator(t, s, alice, false)
	must(t, s.SetOperator(t.Context(), bob.ID, true))
	must(t, s.SetOperator(t.Context(), alice.ID, true))
	wantOperator(t, s, alice, true)
	wantOperator(t, s, bob, true)
	wantOperator(t, s, carol, false)
	if got := operatorHandles(t, s); diff(got, []string{"alice", "bob"}) != "" {
		t.Errorf("Operators = %v, want alice and bob", got)
	}
	must(t, s.SetOperator(t.Context(), bob.ID, false))
	wantOperator(t, s, bob, false)
	wantOperator(t, s, alice, true)
	if got := operatorHandles(t, s); diff(got, []string{"alice"}) != "" {
		t.Errorf("Operators after removing bob = %v, want [alice]", got)
	}
	// Rights can be given again after they were withdrawn.
	must(t, s.SetOperator(t.Context(), bob.ID, true))
	wantOperator(t, s, bob, true)
}

func testSetOperatorErrors(t *testing.T, s glasshouse.Store) {
	alice := MustMember(t, s, "alice")
	must(t, s.SetOperator(t.Context(), alice.ID, true))
	for _, tt := range []struct {
		name     string
		memberID int64
		on       bool
		code     string
	}{
		{"AlreadyOperator", alice.ID, true, glasshouse.ECONFLICT},
		{"UnknownMemberOn", alice.ID + 100, true, glasshouse.ENOTFOUND},
		{"UnknownMemberOff", alice.ID + 100, false, glasshouse.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, s.SetOperator(t.Context(), tt.memberID, tt.on), tt.code, "SetOperator")
		})
	}
	must(t, s.SetOperator(t.Context(), alice.ID, false))
	wantCode(t, s.SetOperator(t.Context(), alice.ID, false), glasshouse.ENOTFOUND, "SetOperator(off) of a non-operator")
	ok, err := s.IsOperator(t.Context(), alice.ID+100)
	if err != nil || ok {
		t.Errorf("IsOperator(unknown member) = %v, %v; want false, nil", ok, err)
	}
	if got := operatorHandles(t, s); len(got) != 0 {
		t.Errorf("Operators after the failures = %v, want none", got)
	}
}
