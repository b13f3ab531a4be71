package httpio_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// fuzzBody has a field of every kind the APIs' bodies use.
type fuzzBody struct {
	Text  string     `json:"text"`
	N     int64      `json:"n"`
	OK    bool       `json:"ok"`
	Maybe *string    `json:"maybe"`
	List  []string   `json:"list"`
	Inner *fuzzInner `json:"inner"`
}

type fuzzInner struct {
	Email string `json:"email"`
	Seq   []struct {
		X int32 `json:"x"`
	} `json:"seq"`
}

// FuzzDecode decodes arbitrary bodies. Properties: a refused body gets a
// 400 (or 413) with a message and leaves the target as it was (a refused
// input writes nothing); an accepted body is valid UTF-8 and valid JSON,
// one object, with no key given twice in any object (checked by an
// oracle that compares keys pairwise with strings.EqualFold, as
// encoding/json matches them), and what it decoded to survives
// encode-then-decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"text": "hi", "n": 5, "ok": true, "maybe": null, "list": ["a"], "inner": {"email": "x", "seq": [{"x": 1}]}}`,
		`{}`, `null`, ` {} `, `[]`, `"x"`, `{"text": "a", "text": "b"}`, `{"text": "a", "TEXT": "b"}`,
		`{"inner": {"email": "a", "Email": "b"}}`, `{"inner": {"seq": [{"x": 1, "x": 2}]}}`, `{"n": 1e400}`,
		`{"n": 9223372036854775808}`, `{"text": "\ud800"}`, `{"\u212aind": 1}`, `{"text": "a"} x`, `{"unknown": 1}`,
		"{\"text\": \"caf\xe9\"}", `{"list": [1]}`, `{"text": "a"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sentinel := fuzzBody{Text: "untouched", List: []string{"kept"}}
		v := sentinel
		err := decode(string(body), &v)
		if err != nil {
			if code := glasshouse.ErrorCode(err); (code != glasshouse.EINVALID && code != glasshouse.ETOOLARGE) || glasshouse.ErrorMessage(err) == "" {
				t.Fatalf("Decode(%q) = %v: want invalid or too_large, with a message", body, err)
			}
			if !reflect.DeepEqual(v, sentinel) {
				t.Fatalf("Decode(%q) refused the body but changed the target to %+v", body, v)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("Decode accepted %q, which is not valid UTF-8 JSON", body)
		}
		if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("Decode accepted %q, which is not an object", body)
		}
		if key, ok := repeatedKey(json.NewDecoder(bytes.NewReader(body))); ok {
			t.Fatalf("Decode accepted %q, which gives %q twice", body, key)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var w fuzzBody
		if err := decode(string(again), &w); err != nil {
			t.Fatalf("Decode refused %s, the encoding of %+v: %v", again, v, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("decode(encode(x)):\n got %+v\nwant %+v", w, v)
		}
	})
}

// repeatedKey reads one JSON value from dec (valid JSON) and returns a key
// that some object in it gives twice, comparing keys with
// strings.EqualFold. It is the oracle for Decode's own check, written
// another way: recursive, comparing keys pairwise.
func repeatedKey(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	switch tok {
	case json.Delim('{'):
		var keys []string
		for dec.More() {
			k, _ := dec.Token()
			key := k.(string)
			for _, prev := range keys {
				if strings.EqualFold(prev, key) {
					return key, true
				}
			}
			keys = append(keys, key)
			if key, ok := repeatedKey(dec); ok {
				return key, true
			}
		}
		dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if key, ok := repeatedKey(dec); ok {
				return key, true
			}
		}
		dec.Token() // ']'
	}
	return "", false
}

// FuzzParseInt parses arbitrary strings as the integers of paths and
// queries (ids, cursors, pagination). Properties: an accepted string is
// the canonical decimal spelling of a number in range
// (strconv.FormatInt gives it back); every canonical spelling of a number
// in range is accepted; format then parse is the identity.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"1", "0", "01", "+1", "-1", "-0", " 1", "1_000", "0x10", "9223372036854775807",
		"9223372036854775808", "", "１", "200", "201"} {
		f.Add(s, int64(1), int64(200), int64(7))
	}
	f.Add("0", int64(0), int64(1<<63-1), int64(1<<63-1))
	f.Fuzz(func(t *testing.T, s string, min, max, x int64) {
		if min < 0 {
			min = -(min + 1) // ParseInt's bounds are never negative
		}
		n, ok := httpio.ParseInt(s, min, max)
		std, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && std >= 0 && strconv.FormatInt(std, 10) == s
		if want := canonical && std >= min && std <= max; ok != want || (ok && n != std) {
			t.Fatalf("ParseInt(%q, %d, %d) = %d, %v; want %v", s, min, max, n, ok, want)
		}
		if !ok && n != 0 {
			t.Fatalf("ParseInt(%q) refused but returned %d", s, n)
		}
		if x >= min && x <= max {
			if n, ok := httpio.ParseInt(strconv.FormatInt(x, 10), min, max); !ok || n != x {
				t.Fatalf("ParseInt(FormatInt(%d)) = %d, %v", x, n, ok)
			}
		}
	})
}
