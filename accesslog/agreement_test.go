package accesslog_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

// vectorAgreement is the worked example of an agreement entry in
// docs/log-format.md.
func vectorAgreement() (*glasshouse.Agreement, accesslog.AgreementEntry) {
	a := &glasshouse.Agreement{Version: 2, Scopes: []string{"profile", "messages.send"},
		Purpose: "Share what you watch with a friend.", RetentionDays: 30,
		ExpiresAt: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
	id, _ := accesslog.ParseEventID("00112233445566778899aabbccddeeff")
	return a, *accesslog.AgreementEntryOf(id, "streamflix", a, accesslog.Approved, time.Date(2026, 3, 1, 12, 34, 56, 789, time.UTC))
}

// The terms document, the entry and its leaf hash of the worked example,
// computed independently with Python's json (separators "," and ":"),
// struct and hashlib.
const (
	vectorTerms     = `{"partner":"streamflix","version":2,"scopes":["messages.send","profile"],"purpose":"Share what you watch with a friend.","retention_days":30,"expires_at":"2027-03-01T00:00:00Z","security_assessed_at":""}`
	vectorTermsHash = "f224dbe618edf62761d5f3d53c52f7f50ecf1fb7901396f440a125802726d9a1"
	vectorAgreeHex  = "02" + "00112233445566778899aabbccddeeff" + "0000000069a43270" + "0a73747265616d666c6978" + "00000002" + "01" +
		"02" + "0d6d657373616765732e73656e64" + "0770726f66696c65" + "000000006b84b500" + vectorTermsHash
	vectorAgreeLeaf = "c8e946287e8eaed751fac3ccfaf68eab397eeadb294f00d3b145c6f03a5f4bb1"
)

func TestAgreementVector(t *testing.T) {
	a, e := vectorAgreement()
	terms := accesslog.TermsOf("streamflix", a)
	if got := string(terms.Document()); got != vectorTerms {
		t.Errorf("terms document\n got %s\nwant %s", got, vectorTerms)
	}
	if h := terms.Hash(); hex.EncodeToString(h[:]) != vectorTermsHash {
		t.Errorf("terms hash %x, want %s", h, vectorTermsHash)
	}
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(b) != vectorAgreeHex {
		t.Errorf("encoding\n got %x\nwant %s", b, vectorAgreeHex)
	}
	if h := accesslog.LeafHash(b); hex.EncodeToString(h[:]) != vectorAgreeLeaf {
		t.Errorf("leaf hash %x, want %s", h, vectorAgreeLeaf)
	}
	d, err := accesslog.DecodeAny(b)
	if err != nil || d.Agreement == nil || d.Access != nil {
		t.Fatalf("DecodeAny = %+v, %v; want an agreement entry", d, err)
	}
	want := e
	want.Time = time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	want.Scopes = []string{"messages.send", "profile"}
	if !reflect.DeepEqual(*d.Agreement, want) {
		t.Errorf("decoded %+v\nwant %+v", *d.Agreement, want)
	}
	if d.EventID() != e.EventID {
		t.Errorf("EventID = %s", d.EventID())
	}
	// An access entry still decodes as one, beside it.
	access, _ := hex.DecodeString(vectorHex)
	if d, err := accesslog.DecodeAny(access); err != nil || d.Access == nil || d.Agreement != nil {
		t.Errorf("DecodeAny(access vector) = %+v, %v", d, err)
	}
}

func TestAgreementEncodeRejects(t *testing.T) {
	_, valid := vectorAgreement()
	for name, change := range map[string]func(e *accesslog.AgreementEntry){
		"zero event id":   func(e *accesslog.AgreementEntry) { e.EventID = accesslog.EventID{} },
		"version 0":       func(e *accesslog.AgreementEntry) { e.Version = 0 },
		"action 0":        func(e *accesslog.AgreementEntry) { e.Action = 0 },
		"action 5":        func(e *accesslog.AgreementEntry) { e.Action = 5 },
		"no scope":        func(e *accesslog.AgreementEntry) { e.Scopes = nil },
		"repeated scope":  func(e *accesslog.AgreementEntry) { e.Scopes = []string{"profile", "profile"} },
		"space in scope":  func(e *accesslog.AgreementEntry) { e.Scopes = []string{"pro file"} },
		"empty partner":   func(e *accesslog.AgreementEntry) { e.PartnerID = "" },
		"zero terms hash": func(e *accesslog.AgreementEntry) { e.TermsHash = [32]byte{} },
		"before 1970":     func(e *accesslog.AgreementEntry) { e.Time = time.Unix(-1, 0) },
		"expiry too late": func(e *accesslog.AgreementEntry) { e.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		e := valid
		e.Scopes = slices.Clone(valid.Scopes)
		change(&e)
		if _, err := e.MarshalBinary(); !errors.Is(err, accesslog.ErrMalformed) {
			t.Errorf("%s: MarshalBinary = %v; want ErrMalformed", name, err)
		}
	}
}

func TestAgreementDecodeRejects(t *testing.T) {
	vector, _ := hex.DecodeString(vectorAgreeHex)
	unsorted := bytes.Replace(slices.Clone(vector), mustHex("0d6d657373616765732e73656e64"+"0770726f66696c65"), mustHex("0770726f66696c65"+"0d6d657373616765732e73656e64"), 1)
	for name, b := range map[string][]byte{
		"empty":           {},
		"access kind":     append([]byte{1}, vector[1:]...),
		"kind 3":          append([]byte{3}, vector[1:]...),
		"truncated":       vector[:len(vector)-1],
		"trailing byte":   append(slices.Clone(vector), 0),
		"unsorted scopes": unsorted,
	} {
		var e accesslog.AgreementEntry
		if err := e.UnmarshalBinary(b); !errors.Is(err, accesslog.ErrMalformed) {
			t.Errorf("%s: UnmarshalBinary = %v; want ErrMalformed", name, err)
		}
		if _, err := accesslog.DecodeAny(b); err == nil {
			t.Errorf("%s: DecodeAny accepted it", name)
		}
	}
}

// FuzzAgreementEntry: any bytes either decode to an agreement entry that
// encodes back to the same bytes, or are refused with ErrMalformed and
// nothing decoded.
func FuzzAgreementEntry(f *testing.F) {
	vector, _ := hex.DecodeString(vectorAgreeHex)
	f.Add(vector)
	f.Add([]byte{2})
	f.Add(vector[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		var e accesslog.AgreementEntry
		if err := e.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, accesslog.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(e, accesslog.AgreementEntry{}) {
				t.Fatalf("a refused entry was partly decoded: %+v", e)
			}
			return
		}
		again, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v, which does not encode: %v", e, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}
