package privacy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// chartDays is how many days the history chart shows, today included.
const chartDays = 30

// noScope names, in the chart, accesses that carried no scope (a request
// refused before its scopes were known).
const noScope = "no scope"

// The chart's drawing area, in SVG user units (viewBox); CSS scales it.
const (
	chartWidth  = 640
	chartHeight = 220
	plotLeft    = 36
	plotRight   = 8
	plotTop     = 12
	plotBottom  = 36
	plotWidth   = chartWidth - plotLeft - plotRight
	plotHeight  = chartHeight - plotTop - plotBottom
)

// chart is the data of the history chart: accesses per day by scope over
// the last chartDays UTC days, as stacked bars. An access that used several
// scopes counts once under each, as the auditor's report counts them.
type chart struct {
	Days   []chartDay // oldest first, chartDays of them
	Scopes []string   // the scopes with accesses, in DataScopes order, then others
	Total  int        // accesses in the window
	Denied int        // of which were denied
	Top    int        // the y axis' top: a round number >= the busiest day
	Bars   []chartBar
	YTicks []chartTick
	XTicks []chartTick
	Title  string
	Desc   string
	// The drawing's size (its viewBox), the plot's left and right edges
	// and the baseline of the day labels.
	Width, Height, Left, Right, LabelY int
}

// chartDay is one day's uses per scope.
type chartDay struct {
	Date   time.Time // midnight UTC
	Counts map[string]int
	Uses   int // the sum of Counts: the bar's height
}

// chartBar is one scope's segment of one day's bar.
type chartBar struct {
	X, Y, W, H float64
	Scope      string
	Label      string // "2 Mar: messages.send 3"
}

// chartTick is an axis label at a position, anchored there by its middle
// or its end.
type chartTick struct {
	At     float64
	Label  string
	Anchor string // an SVG text-anchor
}

// newChart builds the chart of recs (one partner's records, any order) for
// the chartDays UTC days that end with now's.
func newChart(recs []*glasshouse.AccessRecord, now time.Time) chart {
	y, m, d := now.UTC().Date()
	first := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(chartDays - 1))
	c := chart{Days: make([]chartDay, chartDays), Width: chartWidth, Height: chartHeight,
		Left: plotLeft, Right: chartWidth - plotRight, LabelY: chartHeight - 14}
	for i := range c.Days {
		c.Days[i] = chartDay{Date: first.AddDate(0, 0, i), Counts: map[string]int{}}
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		at := rec.At.UTC()
		if at.Before(first) {
			continue
		}
		i := dayIndex(first, at)
		if i >= chartDays {
			continue
		}
		c.Total++
		if !rec.Granted {
			c.Denied++
		}
		scopes := rec.Scopes
		if len(scopes) == 0 {
			scopes = []string{noScope}
		}
		for _, s := range scopes {
			c.Days[i].Counts[s]++
			c.Days[i].Uses++
			seen[s] = true
		}
	}
	c.Scopes = orderScopes(seen)
	busiest := 0
	for _, d := range c.Days {
		busiest = max(busiest, d.Uses)
	}
	c.Top = niceCeil(busiest)
	c.layout()
	c.describe(busiest)
	return c
}

// dayIndex is the number of whole UTC days from first (a midnight) to at's
// day.
func dayIndex(first, at time.Time) int {
	y, m, d := at.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(first) / (24 * time.Hour))
}

// orderScopes lists the seen scopes: data scopes in their usual order, then
// any others sorted, "no scope" last.
func orderScopes(seen map[string]bool) []string {
	var out, others []string
	for _, s := range glasshouse.DataScopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	for s := range seen {
		if !slices.Contains(glasshouse.DataScopes, s) && s != noScope {
			others = append(others, s)
		}
	}
	slices.Sort(others)
	out = append(out, others...)
	if seen[noScope] {
		out = append(out, noScope)
	}
	return out
}

// niceCeil returns the smallest of 1, 2, 5, 10, 20, 50… that is >= n.
func niceCeil(n int) int {
	for step := 1; ; step *= 10 {
		for _, k := range []int{1, 2, 5} {
			if k*step >= n {
				return k * step
			}
		}
	}
}

// layout places the bars and the axis labels.
func (c *chart) layout() {
	slot := float64(plotWidth) / chartDays
	w := slot * 0.7
	base := float64(plotTop + plotHeight)
	for i, d := range c.Days {
		x := plotLeft + float64(i)*slot + (slot-w)/2
		y := base
		for _, s := range c.Scopes {
			n := d.Counts[s]
			if n == 0 {
				continue
			}
			h := float64(n) / float64(c.Top) * plotHeight
			y -= h
			c.Bars = append(c.Bars, chartBar{X: x, Y: y, W: w, H: h, Scope: s,
				Label: fmt.Sprintf("%s: %s %d", d.Date.Format("2 Jan"), s, n)})
		}
		// A label every week, ending today.
		switch {
		case i == chartDays-1: // ends under today's bar, within the drawing
			c.XTicks = append(c.XTicks, chartTick{At: x + w, Label: d.Date.Format("2 Jan"), Anchor: "end"})
		case (chartDays-1-i)%7 == 0:
			c.XTicks = append(c.XTicks, chartTick{At: x + w/2, Label: d.Date.Format("2 Jan"), Anchor: "middle"})
		}
	}
	// 0, the middle (when it is a whole number) and the top.
	for _, v := range []int{0, c.Top / 2, c.Top} {
		if c.Top%2 != 0 && v == c.Top/2 {
			continue
		}
		c.YTicks = append(c.YTicks, chartTick{At: base - float64(v)/float64(c.Top)*plotHeight, Label: fmt.Sprint(v), Anchor: "end"})
	}
}

// describe writes the chart's title and its description for assistive
// technology; the table of events below it is the full text alternative.
func (c *chart) describe(busiest int) {
	first, last := c.Days[0].Date, c.Days[len(c.Days)-1].Date
	c.Title = fmt.Sprintf("Accesses per day by scope, %s to %s (UTC)", first.Format("2 Jan"), last.Format("2 Jan 2006"))
	if c.Total == 0 {
		c.Desc = "No accesses in the last 30 days."
		return
	}
	var parts []string
	for _, s := range c.Scopes {
		n := 0
		for _, d := range c.Days {
			n += d.Counts[s]
		}
		parts = append(parts, fmt.Sprintf("%s %d", s, n))
	}
	var peak time.Time
	for _, d := range c.Days {
		if d.Uses == busiest {
			peak = d.Date
		}
	}
	c.Desc = fmt.Sprintf("%d %s in the last 30 days, %d denied. By scope: %s. Busiest day: %s. The table of events below lists each access.",
		c.Total, plural(c.Total, "access", "accesses"), c.Denied, strings.Join(parts, ", "), peak.Format("2 Jan"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
