package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/policy"
)

// call is one request on its way through serve.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	partner  *glasshouse.Partner
	memberID int64
	clientID string
	in       policy.Input // prepare fills in Request's details and Recipient
}

// reply is what a read returns: the status, the JSON body and the number
// of items in it.
type reply struct {
	status int
	body   any
	items  int
}

// read is an endpoint's data read (or write), run inside the transaction
// that records the access, so that the data and its record commit
// together. It runs only when the policy allows the request, exactly once.
type read func(ctx context.Context, tx glasshouse.Within) (*reply, error)

// endpoint parses a request and loads what the policy needs beyond the
// token, partner, agreement and grant (filling c.in), and returns the read
// to run if the policy allows. It reads no data that the response could
// carry.
type endpoint func(ctx context.Context, c *call) (read, error)

// serve runs one endpoint through the steps every Graph request takes: verify
// the token, rate limit, prepare, decide, read and record, respond.
func (a *API) serve(route string, kind policy.Kind, ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := a.now()
		// A partner that hangs up must not leave a call without its record:
		// the request runs to its record whether or not the client waits.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), recordTimeout)
		defer cancel()
		bearer, err := bearerToken(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		access, err := a.verifier.Authenticate(ctx, bearer)
		if access == nil || access.Token == nil || access.Partner == nil {
			a.fail(w, r, cmpErr(err, fmt.Errorf("authenticate: no access and no error")))
			return
		}
		rec := &glasshouse.AccessRecord{
			PartnerID: access.Partner.ID,
			ClientID:  access.Partner.ClientID,
			MemberID:  access.Token.MemberID,
			Endpoint:  route,
			Scopes:    policy.Asked(kind, access.Token),
			At:        at,
		}
		if access.Agreement != nil {
			rec.AgreementVersion = access.Agreement.Version
		}
		var rd read
		if err == nil {
			rd, err = a.decide(ctx, w, r, access, kind, ep, rec)
		}
		a.finish(ctx, w, r, rec, rd, err)
	})
}

// recordTimeout bounds one Graph request, from the token check to its
// record's commit, once it no longer follows the client's connection.
const recordTimeout = 30 * time.Second

// decide takes the steps between verification and the read: rate limit,
// prepare and decide. It fills in rec's decision and returns the read to
// run.
func (a *API) decide(ctx context.Context, w http.ResponseWriter, r *http.Request, access *oauth.Access, kind policy.Kind, ep endpoint, rec *glasshouse.AccessRecord) (read, error) {
	if ok, after := a.limiter.Allow(access.Partner.ClientID); !ok {
		return nil, &httpio.RetryError{Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "This app is over its rate limit; retry later."), After: after}
	}
	c := &call{
		w:        w,
		r:        r,
		partner:  access.Partner,
		memberID: access.Token.MemberID,
		clientID: access.Partner.ClientID,
		in: policy.Input{
			Ceiling:   a.ceiling,
			Partner:   access.Partner,
			Agreement: access.Agreement,
			Grant:     access.Grant,
			Token:     access.Token,
			Request:   policy.Request{Kind: kind},
			Now:       rec.At,
		},
	}
	rd, err := ep(ctx, c)
	if err != nil {
		return nil, err
	}
	d := policy.Decide(c.in)
	rec.Scopes, rec.Granted = d.Scopes, d.Allow
	if !d.Allow {
		return nil, &denial{d}
	}
	return rd, nil
}

// finish runs the read and records the access in one transaction, then
// sends the response with its receipt. A request refused before the read
// (err), or by the read itself, is recorded as refused, in a transaction
// of its own, and answered with its error. If the access cannot be
// recorded, the partner gets 503 and no data.
func (a *API) finish(ctx context.Context, w http.ResponseWriter, r *http.Request, rec *glasshouse.AccessRecord, rd read, err error) {
	if err == nil {
		var res *reply
		var readErr error
		receipt, rerr := a.recorder.RecordWith(ctx, rec, func(ctx context.Context, tx glasshouse.Within) error {
			if res, readErr = rd(ctx, tx); readErr == nil {
				rec.Reason, rec.Items = "", res.items
			}
			return readErr
		})
		switch {
		case readErr != nil:
			err = readErr // refused by the read: record the refusal below
		case rerr != nil:
			a.unrecorded(w, r, rec, rerr)
			return
		default:
			a.respond(w, r, receipt, res)
			return
		}
	}
	p := a.problem(r, err)
	rec.Reason, rec.Items = p.Code, 0
	receipt, rerr := a.recorder.Record(ctx, rec)
	if rerr != nil {
		a.unrecorded(w, r, rec, rerr)
		return
	}
	setReceipt(w, receipt)
	p.write(w)
}

// respond sends a reply whose access is recorded. The body is encoded
// after the commit, outside the write transaction.
func (a *API) respond(w http.ResponseWriter, r *http.Request, receipt string, res *reply) {
	setReceipt(w, receipt)
	if err := httpio.WriteJSON(w, res.status, res.body); err != nil {
		a.fail(w, r, fmt.Errorf("encode response: %w", err))
	}
}

// unrecorded answers a request whose access could not be recorded: 503,
// and no data.
func (a *API) unrecorded(w http.ResponseWriter, r *http.Request, rec *glasshouse.AccessRecord, err error) {
	a.log.ErrorContext(r.Context(), "access not recorded; no data sent", "route", rec.Endpoint, "partner", rec.ClientID, "err", err)
	a.fail(w, r, glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The access could not be recorded, so no data was sent; retry later."))
}

func setReceipt(w http.ResponseWriter, receipt string) {
	if receipt != "" {
		w.Header().Set("Glasshouse-Receipt", receipt)
	}
}

// bearerToken returns the request's bearer token (RFC 6750 §2.1). Tokens
// are accepted in the Authorization header only, never in the URL or body.
func bearerToken(r *http.Request) (string, error) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", errNoToken
	}
	return strings.TrimSpace(token), nil
}

// errNoToken answers a request without a bearer token.
var errNoToken = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Send an access token in an Authorization: Bearer header.")

// denial is a policy denial.
type denial struct{ d policy.Decision }

func (e *denial) Error() string { return "policy: " + e.d.Reason + ": " + e.d.Message }

// cmpErr returns err, or fallback if err is nil.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
