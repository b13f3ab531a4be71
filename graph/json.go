package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/jsonapi"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/policy"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = jsonapi.MaxBodyBytes

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
	var re *jsonapi.RetryError
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
		return problem{status: http.StatusTooManyRequests, code: glasshouse.ERATELIMITED, message: glasshouse.ErrorMessage(err), retryAfter: re.After}
	case err == errNoToken:
		return problem{status: http.StatusUnauthorized, code: policy.ReasonInvalidToken, message: errNoToken.Message,
			authenticate: `Bearer realm="glasshouse"`}
	}
	code, msg := glasshouse.ErrorCode(err), glasshouse.ErrorMessage(err)
	status, ok := jsonapi.StatusOf[code]
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

// queryInt parses the query parameter name as an integer in [min, max]
// (min >= 0), in canonical decimal (jsonapi.ParseInt); fallback when
// absent or empty.
func queryInt(r *http.Request, name string, min, max, fallback int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return fallback, nil
	}
	n, ok := jsonapi.ParseInt(v, int64(min), int64(max))
	if !ok {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "%s must be an integer from %d to %d, in decimal without sign or leading zeros.", name, min, max)
	}
	return int(n), nil
}
