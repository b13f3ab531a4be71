package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// recorder remembers the status a handler wrote. Unwrap lets
// http.ResponseController and the WebSocket upgrade reach the Flusher and
// Hijacker underneath.
type recorder struct {
	http.ResponseWriter
	status int
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests logs and counts every request by route pattern and status.
// It must wrap the ServeMux without copying the request, so that it sees
// the r.Pattern the mux sets.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.request(route, rec.status, d)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", rec.status), slog.Duration("duration", d))
	})
}

// recoverPanics turns a panic into a logged 500 response.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			} else if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", r.Pattern,
				"err", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec, ok := w.(*recorder); !ok || rec.status == 0 {
				httpio.Problem{Status: http.StatusInternalServerError, Code: glasshouse.EINTERNAL, Message: httpio.InternalMessage}.Write(w)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// rejectCrossOrigin refuses state-changing requests that a browser sends
// from another origin (CSRF), which the session cookie would otherwise
// authenticate.
func (s *Server) rejectCrossOrigin(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, glasshouse.Errorf(glasshouse.EFORBIDDEN, "Cross-origin request refused."))
	}))
	return p.Handler(next)
}
