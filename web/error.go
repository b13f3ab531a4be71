package web

import (
	"net/http"

	"github.com/glasshouse/glasshouse/httpio"
)

// fail writes err as a JSON error response {"error": code, "message":
// text} (httpio.Problem). Errors that are not *glasshouse.Error are
// internal: they are logged and sent as a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := httpio.NewProblem(s.log, r, err)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="glasshouse"`)
	}
	p.Write(w)
}

// noContent writes an empty 204 response.
func noContent(w http.ResponseWriter) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
