package graph

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/policy"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = httpio.MaxBodyBytes

// problem is an error response: the httpio.Problem the partner is told,
// {"error": code, "message": message}, and its WWW-Authenticate
// challenge, if any.
type problem struct {
	httpio.Problem
	authenticate string
}

// problem turns err into the response the partner gets. Policy denials are
// 403 with the policy's reason (401 for invalid_token); the verifier's
// refusals carry their own reason; a missing or invalid token is 401
// invalid_token; other coded errors keep their code (httpio.NewProblem);
// anything else is logged and sent as a bare internal error.
func (a *API) problem(r *http.Request, err error) problem {
	var d *denial
	switch {
	case errors.As(err, &d):
		p := problem{Problem: httpio.Problem{Status: http.StatusForbidden, Code: d.d.Reason, Message: d.d.Message}}
		switch d.d.Reason {
		case policy.ReasonInvalidToken:
			p.Status, p.authenticate = http.StatusUnauthorized, `Bearer realm="glasshouse", error="invalid_token"`
		case policy.ReasonUnknownRequest:
			p.Status = http.StatusNotFound
		case policy.ReasonInsufficientScope:
			p.authenticate = fmt.Sprintf(`Bearer realm="glasshouse", error="insufficient_scope", scope=%q`, strings.Join(d.d.Scopes, " "))
		}
		return p
	case err == errNoToken:
		return problem{Problem: httpio.Problem{Status: http.StatusUnauthorized, Code: policy.ReasonInvalidToken, Message: errNoToken.Message},
			authenticate: `Bearer realm="glasshouse"`}
	}
	p := problem{Problem: httpio.NewProblem(a.log, r, err)}
	if p.Code == glasshouse.EINTERNAL {
		return p
	}
	if reason := oauth.Reason(err); reason != "" {
		p.Code = reason
	}
	if p.Status == http.StatusUnauthorized {
		p.Code, p.authenticate = policy.ReasonInvalidToken, `Bearer realm="glasshouse", error="invalid_token"`
	}
	return p
}

// write sends p.
func (p problem) write(w http.ResponseWriter) {
	if p.authenticate != "" {
		w.Header().Set("WWW-Authenticate", p.authenticate)
	}
	p.Write(w)
}

// fail sends err without recording it: for requests without a verified
// token, and when recording failed.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.problem(r, err).write(w)
}

// queryInt parses the query parameter name as an integer in [min, max]
// (min >= 0), in canonical decimal (httpio.ParseInt); fallback when
// absent or empty.
func queryInt(r *http.Request, name string, min, max, fallback int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return fallback, nil
	}
	n, ok := httpio.ParseInt(v, int64(min), int64(max))
	if !ok {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "%s must be an integer from %d to %d, in decimal without sign or leading zeros.", name, min, max)
	}
	return int(n), nil
}
