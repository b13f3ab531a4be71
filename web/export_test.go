package web

import (
	"net/http"

	"github.com/glasshouse/glasshouse"
)

// WithRecover exposes the panic middleware to the tests.
func (s *Server) WithRecover(h http.Handler) http.Handler { return s.logRequests(s.recoverPanics(h)) }

// MissingCounters exposes missingCounters to the tests.
func MissingCounters(after, end uint64, recs []*glasshouse.AccessRecord) []uint64 {
	return missingCounters(after, end, recs)
}
