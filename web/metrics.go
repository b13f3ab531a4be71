package web

import (
	"database/sql"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the figures served on /metrics.
type metrics struct {
	requests     *prometheus.CounterVec   // route, code
	latency      *prometheus.HistogramVec // route, code
	messagesSent prometheus.Counter
	streams      *prometheus.GaugeVec // transport
}

func newMetrics(reg prometheus.Registerer, dbStats func() sql.DBStats) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glasshouse_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "glasshouse_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and status code (streams excluded).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "glasshouse_messages_sent_total",
			Help: "Messages stored through the API (idempotent repeats not counted).",
		}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glasshouse_streams_open",
			Help: "Open real-time streams by transport.",
		}, []string{"transport"}),
	}
	reg.MustRegister(m.requests, m.latency, m.messagesSent, m.streams)
	if dbStats != nil {
		reg.MustRegister(dbCollectors(dbStats)...)
	}
	return m
}

// request counts one finished request. A stream lasts as long as the
// client stays, so it is counted but kept out of the latency histogram.
func (m *metrics) request(route string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, code).Inc()
	if route != streamRoute {
		m.latency.WithLabelValues(route, code).Observe(d.Seconds())
	}
}

// dbCollectors read the pool figures at each scrape.
func dbCollectors(stats func() sql.DBStats) []prometheus.Collector {
	gauge := func(name, help string, f func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(stats()) })
	}
	counter := func(name, help string, f func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(stats()) })
	}
	return []prometheus.Collector{
		gauge("glasshouse_db_open_connections", "Open database connections.",
			func(s sql.DBStats) float64 { return float64(s.OpenConnections) }),
		gauge("glasshouse_db_in_use_connections", "Database connections in use.",
			func(s sql.DBStats) float64 { return float64(s.InUse) }),
		gauge("glasshouse_db_idle_connections", "Idle database connections.",
			func(s sql.DBStats) float64 { return float64(s.Idle) }),
		counter("glasshouse_db_wait_count_total", "Times a query waited for a free connection.",
			func(s sql.DBStats) float64 { return float64(s.WaitCount) }),
		counter("glasshouse_db_wait_duration_seconds_total", "Time spent waiting for a free connection.",
			func(s sql.DBStats) float64 { return s.WaitDuration.Seconds() }),
	}
}
