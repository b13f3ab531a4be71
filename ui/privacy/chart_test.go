package privacy_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ui/privacy"
)

func access(at time.Time, granted bool, scopes ...string) *glasshouse.AccessRecord {
	return &glasshouse.AccessRecord{At: at, Granted: granted, Scopes: scopes}
}

func TestChart(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	plus5 := time.FixedZone("UTC+5", 5*3600)
	c := privacy.NewChart([]*glasshouse.AccessRecord{
		access(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), true, glasshouse.ScopeMessagesSend),
		access(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC), true, glasshouse.ScopeMessagesSend, glasshouse.ScopeFriends),
		access(time.Date(2026, 3, 10, 14, 59, 0, 0, time.UTC), false),                          // refused before any scope
		access(time.Date(2026, 3, 10, 2, 0, 0, 0, plus5), false, glasshouse.ScopeMessagesRead), // 9 Mar in UTC
		access(time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC), true, glasshouse.ScopeProfile),     // the first day
		access(time.Date(2026, 2, 8, 23, 59, 59, 0, time.UTC), true, glasshouse.ScopeProfile),  // the day before: out
		access(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), true, glasshouse.ScopeProfile),    // tomorrow: out
	}, now)

	if len(c.Days) != privacy.ChartDays || !c.Days[0].Date.Equal(time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)) ||
		!c.Days[29].Date.Equal(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("days %d from %v to %v; want 30 from 9 Feb to 10 Mar", len(c.Days), c.Days[0].Date, c.Days[len(c.Days)-1].Date)
	}
	for _, tc := range []struct {
		day    int
		counts map[string]int
	}{
		{0, map[string]int{glasshouse.ScopeProfile: 1}},
		{1, map[string]int{}},
		{28, map[string]int{glasshouse.ScopeMessagesRead: 1}},
		{29, map[string]int{glasshouse.ScopeMessagesSend: 2, glasshouse.ScopeFriends: 1, "no scope": 1}},
	} {
		got := c.Days[tc.day]
		uses := 0
		for _, n := range tc.counts {
			uses += n
		}
		if len(got.Counts) != len(tc.counts) || got.Uses != uses {
			t.Errorf("day %d: %v (%d uses); want %v", tc.day, got.Counts, got.Uses, tc.counts)
		}
		for s, n := range tc.counts {
			if got.Counts[s] != n {
				t.Errorf("day %d: %s %d; want %d", tc.day, s, got.Counts[s], n)
			}
		}
	}
	if c.Total != 5 || c.Denied != 2 || c.Top != 5 {
		t.Errorf("total %d, denied %d, top %d; want 5, 2, 5", c.Total, c.Denied, c.Top)
	}
	if want := []string{"profile", "friends", "messages.send", "messages.read", "no scope"}; !slices.Equal(c.Scopes, want) {
		t.Errorf("scopes %v; want %v", c.Scopes, want)
	}

	// Today's bar: friends, messages.send, no scope, stacked from the
	// baseline up, 4 of the 5 units of the axis.
	var labels []string
	var stack float64 = privacy.PlotBase
	var x float64 = -1
	for _, b := range c.Bars {
		if !strings.HasPrefix(b.Label, "10 Mar") {
			continue
		}
		labels = append(labels, b.Label)
		if x >= 0 && b.X != x {
			t.Errorf("bar %q at x %.1f; want %.1f with the rest of its day", b.Label, b.X, x)
		}
		x = b.X
		if math.Abs(b.Y+b.H-stack) > 1e-9 {
			t.Errorf("bar %q ends at %.2f; want it on top of the one below, at %.2f", b.Label, b.Y+b.H, stack)
		}
		stack = b.Y
	}
	if want := []string{"10 Mar: friends 1", "10 Mar: messages.send 2", "10 Mar: no scope 1"}; !slices.Equal(labels, want) {
		t.Errorf("today's bars %v; want %v", labels, want)
	}
	if height, want := privacy.PlotBase-stack, 4.0/5*privacy.PlotHeight; math.Abs(height-want) > 1e-9 {
		t.Errorf("today's bar is %.2f high; want %.2f (4 of 5)", height, want)
	}
	if len(c.Bars) != 5 {
		t.Errorf("%d bars; want 5 (one per day and scope with uses)", len(c.Bars))
	}
	var xs, ys []string
	for _, tk := range c.XTicks {
		xs = append(xs, tk.Label)
	}
	for _, tk := range c.YTicks {
		ys = append(ys, tk.Label)
	}
	if want := []string{"10 Feb", "17 Feb", "24 Feb", "3 Mar", "10 Mar"}; !slices.Equal(xs, want) {
		t.Errorf("day labels %v; want %v", xs, want)
	}
	if last := c.XTicks[len(c.XTicks)-1]; last.Anchor != "end" || c.XTicks[0].Anchor != "middle" {
		t.Errorf("day label anchors %q … %q; want middle, and end for today's", c.XTicks[0].Anchor, last.Anchor)
	}
	if want := []string{"0", "5"}; !slices.Equal(ys, want) {
		t.Errorf("axis labels %v; want %v", ys, want)
	}
	if want := "Accesses per day by scope, 9 Feb to 10 Mar 2026 (UTC)"; c.Title != want {
		t.Errorf("title %q; want %q", c.Title, want)
	}
	if want := "5 accesses in the last 30 days, 2 denied. By scope: profile 1, friends 1, messages.send 2, messages.read 1, no scope 1. Busiest day: 10 Mar."; !strings.HasPrefix(c.Desc, want) {
		t.Errorf("description %q; want it to start %q", c.Desc, want)
	}
}

func TestChartEmpty(t *testing.T) {
	c := privacy.NewChart(nil, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	if c.Total != 0 || len(c.Bars) != 0 || len(c.Scopes) != 0 || c.Top != 1 || len(c.Days) != privacy.ChartDays {
		t.Errorf("empty chart: total %d, %d bars, scopes %v, top %d, %d days", c.Total, len(c.Bars), c.Scopes, c.Top, len(c.Days))
	}
	if c.Desc != "No accesses in the last 30 days." {
		t.Errorf("description %q", c.Desc)
	}
}

func TestChartAxis(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var recs []*glasshouse.AccessRecord
	for range 7 {
		recs = append(recs, access(now, true, glasshouse.ScopeProfile))
	}
	c := privacy.NewChart(recs, now)
	var ys []string
	for _, tk := range c.YTicks {
		ys = append(ys, tk.Label)
	}
	if c.Top != 10 || !slices.Equal(ys, []string{"0", "5", "10"}) {
		t.Errorf("7 uses: top %d, labels %v; want 10 with 0, 5, 10", c.Top, ys)
	}
	if b := c.Bars[0]; math.Abs(b.H-0.7*privacy.PlotHeight) > 1e-9 {
		t.Errorf("a bar of 7 on an axis of 10 is %.2f high", b.H)
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 5: 5, 6: 10, 10: 10, 11: 20, 21: 50, 51: 100, 101: 200, 999: 1000} {
		if got := privacy.NiceCeil(n); got != want {
			t.Errorf("NiceCeil(%d) = %d; want %d", n, got, want)
		}
	}
}
