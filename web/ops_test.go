package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

func TestHealthz(t *testing.T) {
	ts := MustServer(t)
	var out struct{ Status string }
	ts.Do(t, "", "GET", "/healthz", nil).MustStatus(t, http.StatusOK).Decode(t, &out)
	if out.Status != "ok" {
		t.Fatalf("healthz status %q", out.Status)
	}
	if err := ts.Store.Close(); err != nil {
		t.Fatal(err)
	}
	ts.Do(t, "", "GET", "/healthz", nil).MustError(t, http.StatusServiceUnavailable, glasshouse.EUNAVAILABLE)
}

func TestMetrics(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	ts.MustSend(t, alice, conv.ID, "hi")
	ts.MustDialWS(t, bob.Token, "")
	ts.Do(t, "", "GET", "/api/v1/me", nil)

	// The gauge moves once the stream goroutine starts, just after the
	// handshake the dial waited for: poll a little for it.
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		body = string(ts.Raw(t, "", "GET", "/metrics", "", nil).MustStatus(t, http.StatusOK).Body)
		if strings.Contains(body, `glasshouse_streams_open{transport="websocket"} 1`) || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{
		`glasshouse_http_requests_total{code="201",route="POST /api/v1/members"} 2`,
		`glasshouse_http_requests_total{code="401",route="GET /api/v1/me"} 1`,
		`glasshouse_http_request_duration_seconds_count{code="201",route="POST /api/v1/conversations/{id}/messages"} 1`,
		`glasshouse_messages_sent_total 1`,
		`glasshouse_streams_open{transport="websocket"} 1`,
		`glasshouse_db_open_connections `,
		`glasshouse_db_in_use_connections `,
		`glasshouse_db_idle_connections `,
		`glasshouse_db_wait_count_total `,
		`glasshouse_db_wait_duration_seconds_total `,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

func TestPanicBecomes500(t *testing.T) {
	ts := MustServer(t)
	h := ts.Web.WithRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	resp := &response{Status: rec.Code, Header: rec.Header(), Body: body}
	resp.MustError(t, http.StatusInternalServerError, glasshouse.EINTERNAL)
	if strings.Contains(string(body), "secret detail") {
		t.Fatalf("panic detail sent to the client: %s", body)
	}
	if logs := ts.Logs.String(); !strings.Contains(logs, "boom: secret detail") || !strings.Contains(logs, `"status":500`) {
		t.Fatalf("panic not logged with its status:\n%s", logs)
	}
}
