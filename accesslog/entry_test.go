package accesslog_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
)

// vectorEntry is the worked example of docs/log-format.md.
func vectorEntry() accesslog.Entry {
	id, _ := accesslog.ParseEventID("00112233445566778899aabbccddeeff")
	var tag accesslog.Tag
	for i := range tag {
		tag[i] = byte(0xa0 + i%16)
	}
	return accesslog.Entry{
		EventID: id, Time: time.Date(2026, 3, 1, 12, 34, 56, 789, time.UTC),
		PartnerID: "streamflix", AgreementVersion: 2,
		Endpoint: "GET /graph/v1/me/conversations/{id}/messages",
		Scopes:   []string{"messages.read"},
		Decision: accesslog.Denied, Reason: "conversation_not_granted", Items: 0, Tag: tag,
	}
}

// vectorHex is the encoding of vectorEntry, computed independently (with
// Python's struct module) from the format in docs/log-format.md.
const vectorHex = "01" + // version
	"00112233445566778899aabbccddeeff" + // event id
	"0000000069a43238" + // time: 2026-03-01T12:34:00Z = 1772368440
	"0a" + "73747265616d666c6978" + // "streamflix"
	"00000002" + // agreement version
	"2c" + "474554202f67726170682f76312f6d652f636f6e766572736174696f6e732f7b69647d2f6d65737361676573" +
	"01" + "0d" + "6d657373616765732e72656164" + // 1 scope: "messages.read"
	"02" + // denied
	"18" + "636f6e766572736174696f6e5f6e6f745f6772616e746564" + // "conversation_not_granted"
	"00000000" + // items
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafa0a1a2a3a4a5a6a7a8a9aaabacadaeaf" // member tag

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

func TestEntryVector(t *testing.T) {
	e := vectorEntry()
	got := MustEncode(t, e)
	if h := hex.EncodeToString(got); h != vectorHex {
		t.Fatalf("encoding:\n got %s\nwant %s", h, vectorHex)
	}
	leaf := accesslog.LeafHash(got)
	if h := hex.EncodeToString(leaf[:]); h != vectorLeafHash {
		t.Errorf("leaf hash %s, want %s", h, vectorLeafHash)
	}
	d, err := accesslog.DecodeEntry(got)
	if err != nil {
		t.Fatal(err)
	}
	e.Time = time.Date(2026, 3, 1, 12, 34, 0, 0, time.UTC)
	if !d.Time.Equal(e.Time) || d.EventID != e.EventID || d.PartnerID != e.PartnerID || d.Endpoint != e.Endpoint ||
		!slices.Equal(d.Scopes, e.Scopes) || d.Decision != e.Decision || d.Reason != e.Reason || d.Tag != e.Tag ||
		d.AgreementVersion != e.AgreementVersion || d.Items != e.Items {
		t.Errorf("decoded %+v, want %+v", d, e)
	}
}

// vectorLeafHash is SHA-256(0x00 || vector), computed with Python's hashlib.
const vectorLeafHash = "eb0bff1d2023a8b1ee242581123801683cd7baa6676f0d874fef4b1f64554a75"

func TestEntryRoundTrip(t *testing.T) {
	for i := range 40 {
		e := testEntry(t, i)
		b := MustEncode(t, e)
		d, err := accesslog.DecodeEntry(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		again := MustEncode(t, *d)
		if !bytes.Equal(again, b) {
			t.Fatalf("entry %d: re-encoding differs", i)
		}
	}
}

func TestEntryScopesSortedOnEncode(t *testing.T) {
	e := vectorEntry()
	e.Scopes = []string{"profile", "friends", "email"}
	d, err := accesslog.DecodeEntry(MustEncode(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"email", "friends", "profile"}; !slices.Equal(d.Scopes, want) {
		t.Errorf("scopes %v, want %v", d.Scopes, want)
	}
	if e.Scopes[0] != "profile" {
		t.Error("MarshalBinary reordered the caller's slice")
	}
}

func TestEntryEncodeRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *accesslog.Entry)
	}{
		{"zero event id", func(e *accesslog.Entry) { e.EventID = accesslog.EventID{} }},
		{"before 1970", func(e *accesslog.Entry) { e.Time = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC) }},
		{"empty partner", func(e *accesslog.Entry) { e.PartnerID = "" }},
		{"partner with space", func(e *accesslog.Entry) { e.PartnerID = "stream flix" }},
		{"partner not ascii", func(e *accesslog.Entry) { e.PartnerID = "streamflíx" }},
		{"partner too long", func(e *accesslog.Entry) { e.PartnerID = string(bytes.Repeat([]byte("a"), 256)) }},
		{"empty endpoint", func(e *accesslog.Entry) { e.Endpoint = "" }},
		{"endpoint with newline", func(e *accesslog.Entry) { e.Endpoint = "GET /x\n" }},
		{"endpoint trailing space", func(e *accesslog.Entry) { e.Endpoint = "GET /x " }},
		{"duplicate scope", func(e *accesslog.Entry) { e.Scopes = []string{"email", "email"} }},
		{"empty scope", func(e *accesslog.Entry) { e.Scopes = []string{""} }},
		{"too many scopes", func(e *accesslog.Entry) {
			e.Scopes = nil
			for i := range 33 {
				e.Scopes = append(e.Scopes, string(rune('a'+i%26))+string(rune('a'+i/26)))
			}
		}},
		{"no decision", func(e *accesslog.Entry) { e.Decision = 0 }},
		{"unknown decision", func(e *accesslog.Entry) { e.Decision = 3 }},
		{"denied without reason", func(e *accesslog.Entry) { e.Reason = "" }},
		{"reason with capitals", func(e *accesslog.Entry) { e.Reason = "Denied" }},
		{"zero tag", func(e *accesslog.Entry) { e.Tag = accesslog.Tag{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := vectorEntry()
			tt.mutate(&e)
			if _, err := e.MarshalBinary(); !errors.Is(err, accesslog.ErrMalformed) {
				t.Errorf("MarshalBinary: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEntryDecodeRejects(t *testing.T) {
	good, _ := hex.DecodeString(vectorHex)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 0", edit(func(b []byte) []byte { b[0] = 0; return b })},
		{"version 2", edit(func(b []byte) []byte { b[0] = 2; return b })},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"time not a whole minute", edit(func(b []byte) []byte { b[24]++; return b })},
		{"zero event id", edit(func(b []byte) []byte { clear(b[1:17]); return b })},
		{"decision 0", edit(func(b []byte) []byte { b[len(b)-62] = 0; return b })},
		{"granted is fine but 3 is not", edit(func(b []byte) []byte { b[len(b)-62] = 3; return b })},
		{"unsorted scopes", mustHex("01" + "00112233445566778899aabbccddeeff" + "0000000069a43188" + "01" + hexOf("p") + "00000000" +
			"01" + hexOf("E") + "02" + "01" + hexOf("b") + "01" + hexOf("a") + "01" + "00" + "00000000" + vectorHex[len(vectorHex)-64:])},
		{"length past the end", edit(func(b []byte) []byte { b[25] = 0xff; return b })},
	}
	for i := range len(good) {
		tests = append(tests, struct {
			name string
			b    []byte
		}{"truncated to " + string(rune('0'+i%10)), good[:i]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := accesslog.DecodeEntry(tt.b); !errors.Is(err, accesslog.ErrMalformed) {
				t.Errorf("DecodeEntry: %v, want ErrMalformed", err)
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEventID(t *testing.T) {
	id, err := accesslog.NewEventID(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := accesslog.ParseEventID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseEventID(%s) = %s, %v", id, back, err)
	}
	for _, s := range []string{"", "00", "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeefg", "00112233445566778899aabbccddeeff00"} {
		if _, err := accesslog.ParseEventID(s); err == nil {
			t.Errorf("ParseEventID(%q) accepted", s)
		}
	}
}
