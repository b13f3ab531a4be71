package httpio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// Decode reads the request body, which must be one JSON object, into v, a
// pointer to a struct. It rejects, each with a message naming the problem:
// a content type other than application/json (415), a body over
// MaxBodyBytes (413), invalid UTF-8 (which encoding/json would silently
// replace), a body cut short or badly framed (see readError), malformed
// JSON, a body that is not an object (null included, which encoding/json
// would take as an empty object), a field given twice (encoding/json would
// keep the last), unknown fields, wrong types and trailing data (400).
//
// v is set only when the body is accepted, and then replaced as a whole:
// a refused body leaves it as it was.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return glasshouse.Errorf(glasshouse.EUNSUPPORTED, "Send the body as Content-Type: application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return readError(err)
	}
	return decodeBody(body, v)
}

// decodeBody is Decode once the body is read.
func decodeBody(body []byte, v any) error {
	if !utf8.Valid(body) {
		return glasshouse.Errorf(glasshouse.EINVALID, "The body must be valid UTF-8.")
	}
	target := reflect.ValueOf(v)
	if target.Kind() != reflect.Pointer || target.IsNil() {
		return fmt.Errorf("httpio.Decode: want a non-nil pointer, got %T", v)
	}
	fresh := reflect.New(target.Type().Elem())
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fresh.Interface()); err != nil {
		return glasshouse.Errorf(glasshouse.EINVALID, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return glasshouse.Errorf(glasshouse.EINVALID, "The body must hold a single JSON value, with nothing after it.")
	}
	if err := checkObject(body); err != nil {
		return err
	}
	target.Elem().Set(fresh.Elem())
	return nil
}

// checkObject refuses what encoding/json lets through in a body it has
// decoded: a body that is not an object (null decodes into a struct as
// nothing at all), and a key given twice in one object, at any depth
// (encoding/json keeps the last). Keys are compared as encoding/json
// matches them to fields, without regard to case, so "text" and "Text"
// are the same field given twice.
//
// encoding/json has no option for either (encoding/json/v2 refuses
// duplicate names, but needs GOEXPERIMENT=jsonv2), so this walks the
// body's tokens once more.
func checkObject(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are only skipped: never parsed as float64
	type container struct {
		keys    map[string]string // folded key -> the key as first given; nil in an array
		wantKey bool              // in an object: the next token is a key or '}'
	}
	var stack []*container
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return glasshouse.Errorf(glasshouse.EINVALID, "The body is not valid JSON.") // Decode has parsed it: not reached
		}
		delim, isDelim := tok.(json.Delim)
		if first && (!isDelim || delim != '{') {
			if tok == nil {
				return glasshouse.Errorf(glasshouse.EINVALID, "The body must be a JSON object, not null.")
			}
			return glasshouse.Errorf(glasshouse.EINVALID, "The body must be a JSON object.")
		}
		if isDelim && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *container
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.wantKey {
			key := tok.(string)
			folded := foldKey(key)
			if prev, dup := top.keys[folded]; dup && prev == key {
				return glasshouse.Errorf(glasshouse.EINVALID, "Field %q is given more than once.", key)
			} else if dup {
				return glasshouse.Errorf(glasshouse.EINVALID, "Fields %q and %q are the same field (names are matched without regard to case); give it once.", prev, key)
			}
			top.keys[folded] = key
			top.wantKey = false
			continue
		}
		if top != nil && top.keys != nil {
			top.wantKey = true // this value ends the pair; a key comes next
		}
		switch delim {
		case '{':
			stack = append(stack, &container{keys: map[string]string{}, wantKey: true})
		case '[':
			stack = append(stack, &container{})
		}
	}
}

// foldKey maps every character of s to the smallest of its simple case
// folds, so that foldKey(a) == foldKey(b) exactly when strings.EqualFold(a,
// b): the way encoding/json matches a key to a field name.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// readError classifies an error reading a request body. Every such error
// but one comes from the client's side of the connection, so it is the
// client's: a body over MaxBodyBytes is 413; a body that ends before its
// Content-Length or its last chunk (io.ErrUnexpectedEOF), a malformed
// chunked encoding (net/http's chunked reader returns unexported errors,
// hence no finer test), and a connection that failed or timed out while
// the body was arriving are 400. Reading a body the handler already closed
// is our bug, and internal.
func readError(err error) error {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return glasshouse.Errorf(glasshouse.ETOOLARGE, "The body must be at most %d bytes.", MaxBodyBytes)
	case errors.Is(err, http.ErrBodyReadAfterClose):
		return fmt.Errorf("read body: %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return glasshouse.Errorf(glasshouse.EINVALID, "The body ended before its declared length (its Content-Length, or the last chunk of its chunked encoding).")
	case errors.As(err, &netErr):
		return glasshouse.Errorf(glasshouse.EINVALID, "The body could not be read: the connection failed or was too slow.")
	}
	return glasshouse.Errorf(glasshouse.EINVALID, "The body could not be read: its chunked transfer encoding is malformed.")
}

// jsonProblem explains a decoding error to the client.
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

// ParseInt reads s as an integer in [min, max] (min >= 0) written in
// canonical decimal: "0", or a digit 1-9 followed by digits. A sign, a
// leading zero, spaces, underscores or any other spelling of the same
// number are refused, so that one number has one spelling in paths and
// queries. ok is false for any other s.
func ParseInt(s string, min, max int64) (n int64, ok bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}
