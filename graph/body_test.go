package graph_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/storetest"
)

// TestBrokenBodies sends POST /me/messages with a valid token over a raw
// connection, with a body that ends before its Content-Length or a chunked
// body cut short or malformed. Each is the partner's fault: 400 invalid,
// recorded as a refusal with reason invalid (before, 500 and a record with
// reason internal), and no message is stored.
func TestBrokenBodies(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: []string{"messages.send"}})
	addr := strings.TrimPrefix(w.http.URL, "http://")
	body := `{"to": "` + w.id(w.bob) + `", "text": "hi"}`
	head := func(framing string) string {
		return fmt.Sprintf("POST /graph/v1/me/messages HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\n%s\r\n\r\n", addr, token, framing)
	}
	send := func(t *testing.T, req string) *response {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		defer resp.Body.Close()
		r := &response{tb: t, Status: resp.StatusCode, Header: resp.Header}
		if r.Body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct{ name, req string }{
		{"shorter than its Content-Length", head(fmt.Sprintf("Content-Length: %d", len(body)+10)) + body},
		{"chunked, cut in a chunk", head("Transfer-Encoding: chunked") + fmt.Sprintf("%x\r\n", len(body)) + body[:5]},
		{"chunked, without the last chunk", head("Transfer-Encoding: chunked") + fmt.Sprintf("%x\r\n%s\r\n", len(body), body)},
		{"chunked, size not hexadecimal", head("Transfer-Encoding: chunked") + "zz\r\n" + body + "\r\n0\r\n\r\n"},
		{"chunked, data longer than its size", head("Transfer-Encoding: chunked") + "2\r\n" + body + "\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.Records(t, w.alice))
			r := send(t, tc.req).Error(http.StatusBadRequest, glasshouse.EINVALID)
			if r.Header.Get("Glasshouse-Receipt") == "" {
				t.Errorf("no receipt on a recorded refusal")
			}
			recs := w.Records(t, w.alice)
			if len(recs) != before+1 {
				t.Fatalf("%d new records, want 1", len(recs)-before)
			}
			if rec := recs[len(recs)-1]; rec.Granted || rec.Reason != glasshouse.EINVALID || rec.Endpoint != graph.RouteSend {
				t.Errorf("record %+v, want a refused %s with reason invalid", rec, graph.RouteSend)
			}
		})
	}
	page, err := w.store.Messages(context.Background(), glasshouse.MessageQuery{ConversationID: storetest.MustDirect(t, w.store, w.alice, w.bob).ID, MemberID: w.bob.ID})
	if err != nil || len(page.Messages) != 0 {
		t.Errorf("a broken body stored %+v (%v)", page, err)
	}
	// The same request, well framed, is sent.
	var out sentBody
	send(t, head("Transfer-Encoding: chunked")+fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)).OK(http.StatusCreated, &out)
	if out.ID == "" {
		t.Errorf("sent %+v", out)
	}
}
