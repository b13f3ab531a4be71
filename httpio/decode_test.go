package httpio_test

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
	"github.com/glasshouse/glasshouse/httpio"
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
			err := httpio.Decode(httptest.NewRecorder(), r, &v)
			if code := glasshouse.ErrorCode(err); code != tc.code {
				t.Fatalf("Decode = %v (code %s), want code %s", err, code, tc.code)
			}
			if tc.code != glasshouse.EINTERNAL && strings.Contains(glasshouse.ErrorMessage(err), "reset") {
				t.Errorf("message %q carries the connection's details", glasshouse.ErrorMessage(err))
			}
		})
	}
}

// decode runs Decode on body sent as JSON.
func decode(body string, v any) error {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return httpio.Decode(httptest.NewRecorder(), r, v)
}

type inner struct {
	Email string `json:"email"`
}

type outer struct {
	Kind  string   `json:"kind"`
	Text  string   `json:"text"`
	Tags  []string `json:"tags"`
	Inner *inner   `json:"inner"`
	List  []inner  `json:"list"`
}

// TestDecodeOneObject: a body is one JSON object with each field once, at
// every depth; what encoding/json lets through (null as an empty object,
// the last of two equal keys, keys that differ only in case) is refused,
// and a refused body leaves the target as it was.
func TestDecodeOneObject(t *testing.T) {
	for _, tc := range []struct {
		name, body, mentions string
	}{
		{"null", `null`, "not null"},
		{"true", `true`, "must be an object"},
		{"number", `1`, "must be an object"},
		{"array", `[]`, "must be an object"},
		{"duplicate", `{"text": "a", "text": "b"}`, `"text" is given more than once`},
		{"duplicate, same value", `{"text": "a", "text": "a"}`, "more than once"},
		{"duplicate, other case", `{"kind": "a", "KIND": "b"}`, `"kind" and "KIND"`},
		{"duplicate, Kelvin sign", `{"kind": "a", "\u212aind": "b"}`, "the same field"},
		{"duplicate, escaped", `{"text": "a", "t\u0065xt": "b"}`, "more than once"},
		{"duplicate in a nested object", `{"inner": {"email": "a", "email": "b"}}`, `"email" is given more than once`},
		{"duplicate in an object in an array", `{"list": [{"email": "a"}, {"email": "b", "email": "c"}]}`, `"email"`},
		{"duplicate after a nested object", `{"inner": {"email": "a"}, "text": "x", "inner": null}`, `"inner"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := outer{Kind: "untouched"}
			err := decode(tc.body, &v)
			if glasshouse.ErrorCode(err) != glasshouse.EINVALID || !strings.Contains(glasshouse.ErrorMessage(err), tc.mentions) {
				t.Fatalf("Decode(%s) = %v; want invalid, mentioning %q", tc.body, err, tc.mentions)
			}
			if v.Kind != "untouched" || v.Text != "" || v.Inner != nil {
				t.Errorf("a refused body changed the target: %+v", v)
			}
		})
	}
	// The same key in different objects, and equal strings as values, are
	// fine.
	var v outer
	body := `{"kind": "text", "text": "kind", "tags": ["a", "a"], "inner": {"email": "x"}, "list": [{"email": "x"}, {"email": "x"}]}`
	if err := decode(body, &v); err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	if v.Kind != "text" || v.Text != "kind" || len(v.Tags) != 2 || v.Inner == nil || v.Inner.Email != "x" || len(v.List) != 2 {
		t.Errorf("decoded %+v", v)
	}
	// A refusal by encoding/json itself (a wrong type after a good field)
	// leaves the target as it was too.
	v = outer{Kind: "untouched"}
	if err := decode(`{"text": "set", "kind": 5}`, &v); glasshouse.ErrorCode(err) != glasshouse.EINVALID || v.Text != "" || v.Kind != "untouched" {
		t.Errorf("Decode = %v, target %+v", err, v)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		s        string
		min, max int64
		want     int64
		ok       bool
	}{
		{"1", 1, 10, 1, true},
		{"0", 0, 10, 0, true},
		{"10", 1, 10, 10, true},
		{"9223372036854775807", 1, 1<<63 - 1, 1<<63 - 1, true},
		{"0", 1, 10, 0, false},
		{"11", 1, 10, 0, false},
		{"", 0, 10, 0, false},
		{"+1", 1, 10, 0, false},
		{"-1", -5, 10, 0, false},
		{"-0", 0, 10, 0, false},
		{"01", 1, 10, 0, false},
		{"00", 0, 10, 0, false},
		{" 1", 1, 10, 0, false},
		{"1 ", 1, 10, 0, false},
		{"1_0", 1, 100, 0, false},
		{"0x1", 1, 10, 0, false},
		{"1e1", 1, 100, 0, false},
		{"١", 1, 10, 0, false}, // an Arabic-Indic one
		{"9223372036854775808", 1, 1<<63 - 1, 0, false},
		{"99999999999999999999", 1, 1<<63 - 1, 0, false},
	} {
		n, ok := httpio.ParseInt(tc.s, tc.min, tc.max)
		if n != tc.want || ok != tc.ok {
			t.Errorf("ParseInt(%q, %d, %d) = %d, %v; want %d, %v", tc.s, tc.min, tc.max, n, ok, tc.want, tc.ok)
		}
	}
}
