package jsonapi_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/jsonapi"
)

// failingBody yields its data, then err.
type failingBody struct {
	r   io.Reader
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

func (b *failingBody) Close() error { return nil }

// TestDecodeReadErrors: an error reading the body is the client's (400
// invalid, a clear message), except a body over the limit (413) and a read
// after close, which is the server's own bug (internal).
func TestDecodeReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"cut short", io.ErrUnexpectedEOF, glasshouse.EINVALID},
		{"malformed chunked encoding", errors.New("malformed chunked encoding"), glasshouse.EINVALID},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, glasshouse.EINVALID},
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, glasshouse.EINVALID},
		{"too large", &http.MaxBytesError{Limit: 10}, glasshouse.ETOOLARGE},
		{"read after close", http.ErrBodyReadAfterClose, glasshouse.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Body = &failingBody{r: strings.NewReader(`{"a":`), err: tc.err}
			r.Header.Set("Content-Type", "application/json")
			var v struct{ A int }
			err := jsonapi.Decode(httptest.NewRecorder(), r, &v)
			if code := glasshouse.ErrorCode(err); code != tc.code {
				t.Fatalf("Decode = %v (code %s), want code %s", err, code, tc.code)
			}
			if tc.code != glasshouse.EINTERNAL && strings.Contains(glasshouse.ErrorMessage(err), "reset") {
				t.Errorf("message %q carries the connection's details", glasshouse.ErrorMessage(err))
			}
		})
	}
}
