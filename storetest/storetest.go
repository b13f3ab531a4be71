package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// A test is one subtest of the suite. It gets a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s glasshouse.Store)
}

// Run runs the suite against the stores that open returns.
//
// open is called once per subtest, from parallel subtests, and MUST return a
// new, empty store that shares no data with any other store it returned (a
// new SQLite file, a new PostgreSQL schema or database). It SHOULD close the
// store with t.Cleanup. A store opened without a Publisher is fine: events are
// checked by RunPublisher.
func Run(t *testing.T, open func(t *testing.T) glasshouse.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Members", memberTests},
		{"Sessions", sessionTests},
		{"Friends", friendTests},
		{"Conversations", conversationTests},
		{"Messages", messageTests},
		{"Concurrency", concurrencyTests},
		{"Partners", partnerTests},
		{"AgreementLog", agreementLogTests},
		{"Grants", grantTests},
		{"OAuth", oauthTests},
		{"Access", accessTests},
		{"Purge", purgeTests},
		{"Accounts", accountTests},
		{"Operators", operatorTests},
		{"PartnerStats", partnerStatsTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, open(t))
				})
			}
		})
	}
}

// must stops the test on an unexpected error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode reports an error unless err carries the given code.
func wantCode(t *testing.T, err error, code, call string) {
	t.Helper()
	if got := glasshouse.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", call, err, got, code)
	}
}

// handles returns the members' handles in order.
func handles(ms []*glasshouse.Member) []string {
	hs := make([]string, len(ms))
	for i, m := range ms {
		hs[i] = m.Handle
	}
	return hs
}

// sortedHandles returns the members' handles sorted.
func sortedHandles(ms []*glasshouse.Member) []string {
	return slices.Sorted(slices.Values(handles(ms)))
}

// seqs returns the messages' seqs in order.
func seqs(msgs []*glasshouse.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// ids returns the messages' ids in order.
func ids(msgs []*glasshouse.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// seqRange returns from, from+step, … up to and including to.
func seqRange(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if to < from {
		step = -1
	}
	for i := from; i != to+step; i += step {
		out = append(out, i)
	}
	return out
}

// diffMember describes how got differs from want, or returns "".
func diffMember(got, want *glasshouse.Member) string {
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		return fmt.Sprintf("CreatedAt %v, want %v", g.CreatedAt, w.CreatedAt)
	}
	g.CreatedAt = w.CreatedAt
	if g != w {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// diffMessage describes how got differs from want, or returns "".
func diffMessage(got, want *glasshouse.Message) string {
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		return fmt.Sprintf("message %d: CreatedAt %v, want %v", w.ID, g.CreatedAt, w.CreatedAt)
	}
	g.CreatedAt = w.CreatedAt
	if g != w {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// sameMessages reports each difference between got and want, in order.
func sameMessages(t *testing.T, call string, got, want []*glasshouse.Message) {
	t.Helper()
	if g, w := ids(got), ids(want); !slices.Equal(g, w) {
		t.Errorf("%s: message ids %s; seqs %s", call, firstDiff(g, w), firstDiff(seqs(got), seqs(want)))
		return
	}
	for i := range got {
		if d := diffMessage(got[i], want[i]); d != "" {
			t.Errorf("%s: message %d: %s", call, i, d)
		}
	}
}

// reversed returns a reversed copy of msgs.
func reversed(msgs []*glasshouse.Message) []*glasshouse.Message {
	out := slices.Clone(msgs)
	slices.Reverse(out)
	return out
}

// firstDiff describes where got first differs from want, briefly.
func firstDiff(got, want []int64) string {
	if len(got)+len(want) <= 20 {
		return fmt.Sprintf("%v, want %v", got, want)
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	window := func(xs []int64) []int64 { return xs[min(len(xs), max(0, i-2)):min(len(xs), i+3)] }
	return fmt.Sprintf("%d of them, want %d; first difference at index %d: …%v…, want …%v…", len(got), len(want), i, window(got), window(want))
}
