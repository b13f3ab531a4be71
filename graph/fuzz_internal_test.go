package graph

import (
	"bytes"
	"context"
	"math"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// Fuzz targets of the Graph API's parsers of page cursors and limits. Run
// one longer with
//
//	go test -run='^$' -fuzz='^FuzzCursor$' -fuzztime=5m ./graph

// fixedSecret is a Store with only a fixed Secret: the ids' keys, the
// same at every run, so that the committed seed corpus holds real
// cursors.
type fixedSecret struct{ Store }

func (fixedSecret) Secret(context.Context, string, func() ([]byte, error)) ([]byte, error) {
	return bytes.Repeat([]byte{9}, 32), nil
}

// FuzzCursor opens arbitrary cursors, and cursors made for arbitrary
// positions, partners, members and listings. Properties: a cursor opens
// only in the spelling this API gave, for the partner, member and listing
// it was made for (never for another), to the position it was made from;
// anything else is 400 invalid.
func FuzzCursor(f *testing.F) {
	x, err := loadIDs(context.Background(), fixedSecret{})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []int64{0, 1, 42, math.MaxInt64, -1} {
		c := x.cursor("client-1", 7, "friends", p)
		f.Add(c, "client-1", int64(7), "friends", p)
	}
	f.Add("", "", int64(0), "", int64(0))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", "c", int64(1), "messages/x", int64(5))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", "c", int64(1), "messages/x", int64(5))
	f.Fuzz(func(t *testing.T, cursor, clientID string, memberID int64, listing string, position int64) {
		if p, err := x.position(clientID, memberID, listing, cursor); err != nil {
			if glasshouse.ErrorCode(err) != glasshouse.EINVALID {
				t.Fatalf("position(%q) = %v; want invalid", cursor, err)
			}
		} else if made := x.cursor(clientID, memberID, listing, p); made != cursor {
			t.Fatalf("cursor %q opened to position %d, which this API spells %q", cursor, p, made)
		}
		made := x.cursor(clientID, memberID, listing, position)
		if p, err := x.position(clientID, memberID, listing, made); err != nil || p != position {
			t.Fatalf("own cursor %q for %d opened to %d, %v", made, position, p, err)
		}
		for _, other := range []struct {
			clientID string
			memberID int64
			listing  string
		}{
			{clientID + "x", memberID, listing},
			{clientID, memberID ^ 1, listing},
			{clientID, memberID, listing + "/"},
		} {
			if _, err := x.position(other.clientID, other.memberID, other.listing, made); err == nil {
				t.Fatalf("cursor for %q/%d/%q opened for %+v", clientID, memberID, listing, other)
			}
		}
	})
}

// FuzzLimit reads arbitrary limit parameters. Property: an accepted limit
// is the canonical decimal spelling of a number from 1 to MaxPageSize,
// or absent (or empty) for the default; anything else is 400 invalid.
func FuzzLimit(f *testing.F) {
	for _, s := range []string{"", "1", "200", "201", "0", "05", "+5", "-0", "5 ", "1e2", "0x10", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/graph/v1/me/friends", nil)
		r.URL.RawQuery = url.Values{"limit": {s}}.Encode()
		n, err := queryInt(r, "limit", 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize)
		if s == "" {
			if err != nil || n != glasshouse.DefaultPageSize {
				t.Fatalf("empty limit: %d, %v", n, err)
			}
			return
		}
		std, perr := strconv.Atoi(s)
		want := perr == nil && strconv.Itoa(std) == s && std >= 1 && std <= glasshouse.MaxPageSize
		if (err == nil) != want || (want && n != std) {
			t.Fatalf("limit %q: %d, %v; want accepted %v", s, n, err, want)
		}
		if err != nil && glasshouse.ErrorCode(err) != glasshouse.EINVALID {
			t.Fatalf("limit %q: %v; want invalid", s, err)
		}
	})
}
