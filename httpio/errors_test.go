package httpio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

func TestStatus(t *testing.T) {
	for code, want := range map[string]int{
		glasshouse.EINVALID:      400,
		glasshouse.EUNAUTHORIZED: 401,
		glasshouse.EFORBIDDEN:    403,
		glasshouse.ENOTFOUND:     404,
		glasshouse.ECONFLICT:     409,
		glasshouse.ETOOLARGE:     413,
		glasshouse.EUNSUPPORTED:  415,
		glasshouse.ERATELIMITED:  429,
		glasshouse.EINTERNAL:     500,
		glasshouse.EUNAVAILABLE:  503,
		"no_such_code":           500,
		"":                       500,
	} {
		if got := httpio.Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
}

// TestSetRetryAfter: whole seconds, rounded up, at least one, so that a
// client that waits what it is told is let in (0.4 s is 1, not 0).
func TestSetRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond:  "1",
		time.Nanosecond:         "1",
		0:                       "1",
		time.Second:             "1",
		1200 * time.Millisecond: "2",
		59*time.Second + 1:      "60",
		time.Hour:               "3600",
	} {
		h := http.Header{}
		httpio.SetRetryAfter(h, d)
		if got := h.Get("Retry-After"); got != want {
			t.Errorf("SetRetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestNewProblem(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := httptest.NewRequest("GET", "/x", nil)
	limited := &httpio.RetryError{Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "Slow down."), After: 400 * time.Millisecond}
	for _, tc := range []struct {
		name   string
		err    error
		want   httpio.Problem
		logged string // "" for none
	}{
		{"coded", glasshouse.Errorf(glasshouse.ECONFLICT, "Taken."), httpio.Problem{Status: 409, Code: glasshouse.ECONFLICT, Message: "Taken."}, ""},
		{"wrapped", fmt.Errorf("ctx: %w", glasshouse.Errorf(glasshouse.ENOTFOUND, "No such thing.")), httpio.Problem{Status: 404, Code: glasshouse.ENOTFOUND, Message: "No such thing."}, ""},
		{"with a wait", limited, httpio.Problem{Status: 429, Code: glasshouse.ERATELIMITED, Message: "Slow down.", RetryAfter: 400 * time.Millisecond}, ""},
		{"not coded", errors.New("disk on fire"), httpio.Problem{Status: 500, Code: glasshouse.EINTERNAL, Message: httpio.InternalMessage}, "level=ERROR msg=\"internal error\" method=GET route=\"\" err=\"disk on fire\""},
		{"unknown code", glasshouse.Errorf("bogus", "secret detail"), httpio.Problem{Status: 500, Code: glasshouse.EINTERNAL, Message: httpio.InternalMessage}, "level=ERROR msg=\"internal error\""},
		{"database away", fmt.Errorf("session: failed to connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}),
			httpio.Problem{Status: 503, Code: glasshouse.EUNAVAILABLE, Message: httpio.UnavailableMessage, RetryAfter: time.Second}, "level=WARN msg=\"database unavailable\""},
	} {
		logs.Reset()
		if got := httpio.NewProblem(log, r, tc.err); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if tc.logged == "" && logs.Len() > 0 || !strings.Contains(logs.String(), tc.logged) {
			t.Errorf("%s: logged %q, want %q", tc.name, logs.String(), tc.logged)
		}
	}

	// A client that went away is no server error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	logs.Reset()
	httpio.NewProblem(log, r.WithContext(ctx), fmt.Errorf("read: %w", context.Canceled))
	if !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("a cancelled request logged %q, want it at INFO", logs.String())
	}
}

func TestProblemWrite(t *testing.T) {
	w := httptest.NewRecorder()
	httpio.Problem{Status: 429, Code: glasshouse.ERATELIMITED, Message: "Slow \"down\".", RetryAfter: 400 * time.Millisecond}.Write(w)
	h := w.Result().Header
	if w.Code != 429 || w.Body.String() != `{"error":"rate_limited","message":"Slow \"down\"."}`+"\n" ||
		h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Retry-After") != "1" {
		t.Errorf("%d %v %q", w.Code, h, w.Body)
	}
	w = httptest.NewRecorder()
	if err := httpio.WriteJSON(w, 200, func() {}); err == nil || w.Body.Len() > 0 || len(w.Result().Header) > 0 {
		t.Errorf("a value that does not marshal: %v, wrote %v %q", err, w.Result().Header, w.Body)
	}
}
