package httpio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/glasshouse/glasshouse"
)

// statuses maps each error code to its HTTP status. It is the only place
// where codes become statuses; Status reads it.
var statuses = map[string]int{
	glasshouse.EINVALID:      http.StatusBadRequest,
	glasshouse.EUNAUTHORIZED: http.StatusUnauthorized,
	glasshouse.EFORBIDDEN:    http.StatusForbidden,
	glasshouse.ENOTFOUND:     http.StatusNotFound,
	glasshouse.ECONFLICT:     http.StatusConflict,
	glasshouse.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	glasshouse.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	glasshouse.ERATELIMITED:  http.StatusTooManyRequests,
	glasshouse.EINTERNAL:     http.StatusInternalServerError,
	glasshouse.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// Status returns the HTTP status of an error code: 500 for EINTERNAL and
// for a code it does not know.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryError is an error that tells the client when to try again: the
// Retry-After header of a 429 or 503. After is positive.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// SetRetryAfter sets the Retry-After header to d in whole seconds, rounded
// up and at least one, so that a client that waits as long as it is told
// is let in: 0.4 s is "1", never "0".
func SetRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10))
}

// InternalMessage is all a client learns of an internal error.
const InternalMessage = "Internal error."

// UnavailableMessage is what a client is told when the database does not
// answer (glasshouse.Unavailable).
const UnavailableMessage = "The service cannot reach its database at the moment; try again shortly."

// Problem is what a client is told of an error: a status, a code and a
// human message, and how long to wait before trying again, if it should.
// The JSON APIs send Code and Message as {"error": code, "message":
// text} (Write); the pages show Message in a page with Status.
type Problem struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // positive: the Retry-After header
}

// NewProblem returns what the client of r is told of err. A
// *glasshouse.Error keeps its code and message, with the code's status
// (and its wait, for a *RetryError). Anything else, an EINTERNAL error or a
// code Status does not know, is internal: 500, EINTERNAL and
// InternalMessage, and err is logged with the request's method and route,
// at Error, or at Info when it is the client that went away.
func NewProblem(log *slog.Logger, r *http.Request, err error) Problem {
	code := glasshouse.ErrorCode(err)
	if code == glasshouse.EINTERNAL && glasshouse.Unavailable(err) {
		// The database does not answer: the operator needs the cause,
		// the client to come back in a moment.
		log.WarnContext(r.Context(), "database unavailable", "method", r.Method, "route", r.Pattern, "err", err)
		return Problem{Status: http.StatusServiceUnavailable, Code: glasshouse.EUNAVAILABLE, Message: UnavailableMessage, RetryAfter: time.Second}
	}
	if _, known := statuses[code]; !known || code == glasshouse.EINTERNAL {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			level = slog.LevelInfo // the client went away
		}
		log.Log(r.Context(), level, "internal error", "method", r.Method, "route", r.Pattern, "err", err)
		return Problem{Status: http.StatusInternalServerError, Code: glasshouse.EINTERNAL, Message: InternalMessage}
	}
	p := Problem{Status: statuses[code], Code: code, Message: glasshouse.ErrorMessage(err)}
	var re *RetryError
	if errors.As(err, &re) {
		p.RetryAfter = re.After
	}
	return p
}

// SetHeader sets the headers the problem carries on h: Retry-After when
// it has a wait.
func (p Problem) SetHeader(h http.Header) {
	if p.RetryAfter > 0 {
		SetRetryAfter(h, p.RetryAfter)
	}
}

// errorBody is the JSON form of a Problem.
type errorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// Write sends p as a JSON error response: {"error": code, "message":
// text}, with its headers.
func (p Problem) Write(w http.ResponseWriter) {
	p.SetHeader(w.Header())
	WriteJSON(w, p.Status, errorBody{Code: p.Code, Message: p.Message}) // always marshals
}

// WriteJSON sends v as a JSON response with status: one line, not to be
// stored by caches or sniffed as another type. It writes nothing when v
// does not marshal, and returns the error.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}
