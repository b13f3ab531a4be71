package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/policy"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// statusOf maps each error code to its HTTP status. With problem, it is
// the only place where errors become statuses.
var statusOf = map[string]int{
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

// problem is an error response: {"error": code, "message": message}.
type problem struct {
	status        int
	code, message string
	authenticate  string        // the WWW-Authenticate header, if any
	retryAfter    time.Duration // the Retry-After header, if positive
}

// problem turns err into the response the partner gets. Policy denials are
// 403 with the policy's reason (401 for invalid_token); the verifier's
// refusals carry their own reason; a missing or invalid token is 401
// invalid_token; other coded errors keep their code; anything else is
// logged and sent as a bare internal error.
func (a *API) problem(r *http.Request, err error) problem {
	var d *denial
	var re *retryError
	switch {
	case errors.As(err, &d):
		p := problem{status: http.StatusForbidden, code: d.d.Reason, message: d.d.Message}
		switch d.d.Reason {
		case policy.ReasonInvalidToken:
			p.status, p.authenticate = http.StatusUnauthorized, `Bearer realm="glasshouse", error="invalid_token"`
		case policy.ReasonUnknownRequest:
			p.status = http.StatusNotFound
		case policy.ReasonInsufficientScope:
			p.authenticate = fmt.Sprintf(`Bearer realm="glasshouse", error="insufficient_scope", scope=%q`, strings.Join(d.d.Scopes, " "))
		}
		return p
	case errors.As(err, &re):
		return problem{status: http.StatusTooManyRequests, code: glasshouse.ERATELIMITED, message: glasshouse.ErrorMessage(err), retryAfter: re.after}
	case err == errNoToken:
		return problem{status: http.StatusUnauthorized, code: policy.ReasonInvalidToken, message: errNoToken.Message,
			authenticate: `Bearer realm="glasshouse"`}
	}
	code, msg := glasshouse.ErrorCode(err), glasshouse.ErrorMessage(err)
	status, ok := statusOf[code]
	if !ok || code == glasshouse.EINTERNAL {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			a.log.InfoContext(r.Context(), "client went away", "route", r.Pattern, "err", err)
		} else {
			a.log.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "err", err)
		}
		return problem{status: http.StatusInternalServerError, code: glasshouse.EINTERNAL, message: "Internal error."}
	}
	p := problem{status: status, code: code, message: msg}
	if reason := oauth.Reason(err); reason != "" {
		p.code = reason
	}
	if status == http.StatusUnauthorized {
		p.code, p.authenticate = policy.ReasonInvalidToken, `Bearer realm="glasshouse", error="invalid_token"`
	}
	return p
}

// write sends p.
func (p problem) write(w http.ResponseWriter) {
	if p.authenticate != "" {
		w.Header().Set("WWW-Authenticate", p.authenticate)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.retryAfter.Seconds()))))
	}
	b, _ := json.Marshal(struct {
		Code    string `json:"error"`
		Message string `json:"message"`
	}{p.code, p.message})
	writeBody(w, p.status, b)
}

// fail sends err without recording it: for requests without a verified
// token, and when recording failed.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.problem(r, err).write(w)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decode reads the request body as exactly one JSON value into v. It
// rejects, each with a message naming the problem: a content type other
// than application/json (415), a body over MaxBodyBytes (413), invalid
// UTF-8 (which encoding/json would silently replace), malformed JSON,
// unknown fields, wrong types and trailing data (400). It is the web
// package's decoder, so that both APIs read JSON alike.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
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

// jsonProblem explains a decoding error to the partner.
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

// queryInt parses the query parameter name as an integer in [min, max],
// fallback when absent.
func queryInt(r *http.Request, name string, min, max, fallback int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "%s must be an integer from %d to %d.", name, min, max)
	}
	return n, nil
}
