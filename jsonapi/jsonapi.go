package jsonapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
)

// StatusOf maps each error code to its HTTP status. It is the only place
// where codes become statuses.
var StatusOf = map[string]int{
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

// RetryError is an error that tells the client when to try again: the
// Retry-After header of a 429 or 503.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// Decode reads the request body as exactly one JSON value into v. It
// rejects, each with a message naming the problem: a content type other
// than application/json (415), a body over MaxBodyBytes (413), invalid
// UTF-8 (which encoding/json would silently replace), a body cut short or
// badly framed (see readError), malformed JSON, unknown fields, wrong
// types and trailing data (400).
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return glasshouse.Errorf(glasshouse.EUNSUPPORTED, "Send the body as Content-Type: application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return readError(err)
	}
	if !utf8.Valid(body) {
		return glasshouse.Errorf(glasshouse.EINVALID, "The body must be valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return glasshouse.Errorf(glasshouse.EINVALID, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return glasshouse.Errorf(glasshouse.EINVALID, "The body must hold a single JSON value, with nothing after it.")
	}
	return nil
}

// readError classifies an error reading a request body. Every such error
// but one comes from the client's side of the connection, so it is the
// client's: a body over MaxBodyBytes is 413; a body that ends before its
// Content-Length or its last chunk (io.ErrUnexpectedEOF), a malformed
// chunked encoding (net/http's chunked reader returns unexported errors,
// hence no finer test), and a connection that failed or timed out while
// the body was arriving are 400. Reading a body the handler already closed
// is our bug, and internal.
func readError(err error) error {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return glasshouse.Errorf(glasshouse.ETOOLARGE, "The body must be at most %d bytes.", MaxBodyBytes)
	case errors.Is(err, http.ErrBodyReadAfterClose):
		return fmt.Errorf("read body: %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return glasshouse.Errorf(glasshouse.EINVALID, "The body ended before its declared length (its Content-Length, or the last chunk of its chunked encoding).")
	case errors.As(err, &netErr):
		return glasshouse.Errorf(glasshouse.EINVALID, "The body could not be read: the connection failed or was too slow.")
	}
	return glasshouse.Errorf(glasshouse.EINVALID, "The body could not be read: its chunked transfer encoding is malformed.")
}

// jsonProblem explains a decoding error to the client.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "The body must not be empty."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The body ends in the middle of a JSON value."
	case errors.As(err, &syntax):
		return fmt.Sprintf("The body is not valid JSON at byte %d: %s.", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("The body must be %s, not %s.", kindName(typ.Type), typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("Field %q must be %s, not %s.", typ.Field, kindName(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return "The body is not valid JSON."
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
