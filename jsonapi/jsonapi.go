package jsonapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
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
// UTF-8 (which encoding/json would silently replace), malformed JSON,
// unknown fields, wrong types and trailing data (400).
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return glasshouse.Errorf(glasshouse.EUNSUPPORTED, "Send the body as Content-Type: application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return glasshouse.Errorf(glasshouse.ETOOLARGE, "The body must be at most %d bytes.", MaxBodyBytes)
	} else if err != nil {
		return fmt.Errorf("read body: %w", err)
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
