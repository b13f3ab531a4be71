package portal

import (
	"fmt"
	"math"
	"time"

	"github.com/glasshouse/glasshouse"
)

// chart is a bar chart of accesses per day, drawn as inline SVG by the
// dashboard template: one bar per day of the window, granted accesses at
// the bottom, refusals stacked on top. Its geometry is computed here, so
// that the template holds no arithmetic and the page no inline style.
type chart struct {
	Width, Height float64 // the viewBox; the axis is at the bottom
	Top           float64 // y of the scale's top, Max
	Bars          []bar
	Max           int64  // the value at the top of the scale
	First, Last   string // the first and last day, as labels
	Summary       string // what the chart shows, for screen readers
}

// bar is one day.
type bar struct {
	X, W              float64
	GrantedY, DeniedY float64
	GrantedH, DeniedH float64
	Title             string // the day and its counts, shown on hover
}

// The chart's viewBox. Its labels are HTML around the SVG, so that they
// keep their size when the chart is scaled to the screen.
const (
	chartWidth  = 720
	chartHeight = 150
	chartTop    = 4 // room above the highest bar
)

// newChart lays out the days of [since, until) from the store's sparse
// per-day counts.
func newChart(since, until time.Time, days []glasshouse.DayUsage) chart {
	counts := map[time.Time]glasshouse.DayUsage{}
	for _, d := range days {
		counts[d.Day.UTC()] = d
	}
	first := since.UTC().Truncate(24 * time.Hour)
	n := int(until.Sub(first).Hours()/24 + 0.5)
	c := chart{Width: chartWidth, Height: chartHeight, Top: chartTop,
		First: first.Format("2 Jan"), Last: first.AddDate(0, 0, n-1).Format("2 Jan")}
	var total glasshouse.AccessTotals
	var busiest int64
	for _, d := range days {
		busiest = max(busiest, d.Granted+d.Denied)
		total.Granted += d.Granted
		total.Denied += d.Denied
	}
	c.Max = niceCeiling(busiest)
	slot := float64(chartWidth) / float64(n)
	scale := (c.Height - c.Top) / float64(c.Max)
	for i := range n {
		day := first.AddDate(0, 0, i)
		d := counts[day]
		b := bar{X: round(float64(i)*slot + slot*0.15), W: round(slot * 0.7),
			GrantedH: round(float64(d.Granted) * scale), DeniedH: round(float64(d.Denied) * scale),
			Title: fmt.Sprintf("%s: %d granted, %d denied", day.Format("2 Jan"), d.Granted, d.Denied)}
		b.GrantedY = round(c.Height - b.GrantedH)
		b.DeniedY = round(b.GrantedY - b.DeniedH)
		c.Bars = append(c.Bars, b)
	}
	c.Summary = fmt.Sprintf("Accesses per day from %s to %s: %d granted and %d denied in all; the busiest day had %d.",
		c.First, c.Last, total.Granted, total.Denied, busiest)
	return c
}

// round keeps two decimals: enough for an SVG coordinate, short in the page.
func round(f float64) float64 { return math.Round(f*100) / 100 }

// niceCeiling rounds n up to 1, 2 or 5 times a power of ten (1 at least),
// for a scale that reads well.
func niceCeiling(n int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
