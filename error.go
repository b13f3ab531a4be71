package glasshouse

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Error codes. Each maps to exactly one HTTP status in the web package.
const (
	EINVALID      = "invalid"                // 400: bad input
	EUNAUTHORIZED = "unauthorized"           // 401: no or bad credentials
	EFORBIDDEN    = "forbidden"              // 403: authenticated but not allowed
	ENOTFOUND     = "not_found"              // 404: absent, or hidden from the caller
	ECONFLICT     = "conflict"               // 409: clashes with current state
	ETOOLARGE     = "too_large"              // 413: body or list over its limit
	EUNSUPPORTED  = "unsupported_media_type" // 415: not JSON
	ERATELIMITED  = "rate_limited"           // 429: slow down
	EINTERNAL     = "internal"               // 500: our fault; details are logged, never sent
	EUNAVAILABLE  = "unavailable"            // 503: shutting down or overloaded
)

// Error is an error a user may see: a stable code and a human message.
// Anything that is not an *Error reaches users as EINTERNAL.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("glasshouse: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, "" for nil, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Unavailable reports whether err says that the database (or another
// server a request needs) does not answer now: a connection refused or
// cut, or a PostgreSQL server shutting down or starting up (SQLSTATE
// class 08, 57P01-57P03). A request that failed so is to be retried:
// the HTTP layer (package httpio) answers it 503, not 500.
func Unavailable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		switch s := st.SQLState(); {
		case strings.HasPrefix(s, "08"), s == "57P01", s == "57P02", s == "57P03":
			return true
		}
	}
	return false
}

// ErrorMessage returns the human message of err's *Error, or a generic text
// for internal errors, so that internal details never reach a user.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
