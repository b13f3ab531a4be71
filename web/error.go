package web

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/jsonapi"
)

// internalMessage is all a client learns of an internal error.
const internalMessage = "Internal error."

// errorResponse is the body of every error response.
type errorResponse struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// fail writes err as a JSON error response. Errors that are not
// *glasshouse.Error are internal: they are logged and sent as a generic
// message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := glasshouse.ErrorCode(err), glasshouse.ErrorMessage(err)
	status, ok := jsonapi.StatusOf[code]
	if !ok {
		s.log.ErrorContext(r.Context(), "unknown error code", "code", code, "err", err)
		code, msg, status = glasshouse.EINTERNAL, internalMessage, http.StatusInternalServerError
	}
	if code == glasshouse.EINTERNAL {
		level := s.log.ErrorContext
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			level = s.log.InfoContext // the client went away
		}
		level(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "err", err)
	}
	var re *jsonapi.RetryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(re.After.Seconds()))))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="glasshouse"`)
	}
	writeJSON(w, status, errorResponse{Code: code, Message: msg})
}

// reply writes v as a JSON response.
func reply(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBytes(w, status, b)
	return nil
}

// noContent writes an empty 204 response.
func noContent(w http.ResponseWriter) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // only used for types that always marshal
	writeBytes(w, status, b)
}

func writeBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
