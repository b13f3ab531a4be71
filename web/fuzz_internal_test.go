package web

import (
	"math"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// Fuzz targets of the member API's own parsers of query parameters and
// headers. Run one longer with
//
//	go test -run='^$' -fuzz='^FuzzStreamCursor$' -fuzztime=5m ./web

// canonicalIn reports whether s is the canonical decimal spelling of a
// number in [min, max] (the oracle: strconv, not httpio.ParseInt).
func canonicalIn(s string, min, max int64) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && strconv.FormatInt(n, 10) == s && n >= min && n <= max
}

// FuzzStreamCursor reads arbitrary after= values and Last-Event-ID
// headers. Property: the header wins when it is not empty; the stream
// starts after exactly the number the winner spells, only when it spells
// a message id (0 or more) canonically; anything else is 400 invalid with
// a message; without either, the stream is live only.
func FuzzStreamCursor(f *testing.F) {
	for _, s := range []string{"", "0", "5", "05", "+5", "-1", "x", "9223372036854775807", "9223372036854775808", " 5"} {
		f.Add(s, true, "")
		f.Add("1", true, s)
	}
	f.Add("", false, "")
	f.Fuzz(func(t *testing.T, after string, hasAfter bool, lastEventID string) {
		r := httptest.NewRequest("GET", "/api/v1/stream", nil)
		if hasAfter {
			r.URL.RawQuery = url.Values{"after": {after}}.Encode()
		}
		r.Header["Last-Event-Id"] = []string{lastEventID}
		cur, err := streamCursor(r)
		winner, given := lastEventID, lastEventID != ""
		if !given {
			winner, given = after, hasAfter
		}
		if !given {
			if err != nil || cur != (cursor{}) {
				t.Fatalf("no cursor: got %+v, %v; want live only", cur, err)
			}
			return
		}
		n, ok := canonicalIn(winner, 0, math.MaxInt64)
		if !ok {
			if glasshouse.ErrorCode(err) != glasshouse.EINVALID || glasshouse.ErrorMessage(err) == "" {
				t.Fatalf("cursor %q: got %+v, %v; want invalid", winner, cur, err)
			}
			return
		}
		if err != nil || cur != (cursor{after: n, backfill: true}) {
			t.Fatalf("cursor %q: got %+v, %v; want after %d", winner, cur, err, n)
		}
	})
}

// FuzzMessageQuery reads arbitrary query strings of a history page.
// Property: an accepted query names before or after (never both), each
// the canonical spelling of a number in its range (before from 1, after
// from 0), and a limit from 1 to MaxPageSize (DefaultPageSize when
// absent); it pages forward exactly when after is given.
func FuzzMessageQuery(f *testing.F) {
	for _, q := range []string{"", "before=10", "after=0", "limit=200", "limit=201", "limit=0", "before=1&after=1",
		"before=01", "after=%2B1", "limit=5&limit=6", "before=", "after", "limit=1e2", "before=9223372036854775807"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		query, _ := url.ParseQuery(raw) // as r.URL.Query() does: what parses
		q, err := messageQuery(query)
		if err != nil {
			if glasshouse.ErrorCode(err) != glasshouse.EINVALID || glasshouse.ErrorMessage(err) == "" {
				t.Fatalf("query %q: %v; want invalid with a message", raw, err)
			}
			if q != (glasshouse.MessageQuery{}) {
				t.Fatalf("query %q refused, but gave %+v", raw, q)
			}
			return
		}
		if query.Has("before") && query.Has("after") {
			t.Fatalf("query %q: both before and after accepted", raw)
		}
		check := func(name string, got, min, max, def int64) {
			if !query.Has(name) {
				if got != def {
					t.Fatalf("query %q: %s %d, want the default %d", raw, name, got, def)
				}
				return
			}
			if n, ok := canonicalIn(query.Get(name), min, max); !ok || n != got {
				t.Fatalf("query %q: %s = %q accepted as %d", raw, name, query.Get(name), got)
			}
		}
		check("before", q.Before, 1, math.MaxInt64, 0)
		check("after", q.After, 0, math.MaxInt64, 0)
		check("limit", int64(q.Limit), 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize)
		if q.Forward != query.Has("after") {
			t.Fatalf("query %q: forward %v", raw, q.Forward)
		}
	})
}
