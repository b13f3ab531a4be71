package privacy

import (
	"time"

	"github.com/glasshouse/glasshouse"
)

// Chart exposes the history chart's data to the tests.
type Chart = chart

// NewChart exposes newChart to the tests.
func NewChart(recs []*glasshouse.AccessRecord, now time.Time) Chart { return newChart(recs, now) }

// NiceCeil exposes niceCeil to the tests.
func NiceCeil(n int) int { return niceCeil(n) }

// ChartDays is how many days the chart shows.
const ChartDays = chartDays

// PlotBase is the y of the chart's baseline, PlotHeight the height of its
// axis.
const (
	PlotBase   = plotTop + plotHeight
	PlotHeight = plotHeight
)
