package web

import (
	"net/http"
)

// WithRecover exposes the panic middleware to the tests.
func (s *Server) WithRecover(h http.Handler) http.Handler { return s.logRequests(s.recoverPanics(h)) }
