package accesslog_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/accesslog"
	"golang.org/x/mod/sumdb/note"
)

// The fuzz targets of the parsers of what auditors, partners and browsers
// hand the log: entries, checkpoints and receipts. Run one longer with
//
//	go test -run='^$' -fuzz='^FuzzEntry$' -fuzztime=5m ./accesslog

// fuzzKey is a fixed log key, so that the committed seed corpus (signed
// checkpoints and receipts) verifies.
var fuzzKey = sync.OnceValue(func() *accesslog.Key {
	_, k, err := accesslog.NewKey(accesslog.Origin("fuzz.example"), bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		panic(err)
	}
	return k
})

// FuzzEntry decodes arbitrary bytes as a log entry. Property: an error
// wraps ErrMalformed; an accepted entry is canonical, so encoding it again
// gives exactly the same bytes (decode then encode is the identity), and
// a receipt for it verifies and checks.
func FuzzEntry(f *testing.F) {
	vector, _ := hex.DecodeString(vectorHex)
	f.Add(vector)
	for i := range 6 {
		e := testEntry(f, i)
		f.Add(MustEncode(f, e))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(vector[:len(vector)-1])
	f.Add(append(slices.Clone(vector), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e accesslog.Entry
		if err := e.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, accesslog.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(e, accesslog.Entry{}) {
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
		if e.Time.Location() != time.UTC || e.Time.Second() != 0 || e.Time.Nanosecond() != 0 || !slices.IsSorted(e.Scopes) {
			t.Fatalf("decoded %+v: time not a UTC minute, or scopes not sorted", e)
		}
		k := fuzzKey()
		header, err := accesslog.SignReceipt(k.Signer, b)
		if err != nil {
			t.Fatalf("SignReceipt: %v", err)
		}
		r, err := accesslog.VerifyReceipt(header, k.Verifier)
		if err != nil {
			t.Fatalf("VerifyReceipt(%s): %v", header, err)
		}
		if err := r.Check(b); err != nil || r.EventID != e.EventID || !r.Time.Equal(e.Time) {
			t.Fatalf("receipt %+v for %+v: %v", r, e, err)
		}
	})
}

// FuzzEntryRoundTrip builds an entry from arbitrary fields. Property: it
// encodes (or is refused with ErrMalformed), and decoding its encoding
// gives it back, its time rounded down to the minute and its scopes
// sorted: decode(encode(x)) == x.
func FuzzEntryRoundTrip(f *testing.F) {
	e := vectorEntry()
	f.Add(e.EventID[:], e.Time.Unix(), e.PartnerID, e.AgreementVersion, e.Endpoint, strings.Join(e.Scopes, "\n"), uint8(e.Decision), e.Reason, e.Items, e.Tag[:])
	f.Add(e.EventID[:], int64(-61), "p", uint32(0), "GET /", "b\na", uint8(1), "", uint32(1<<32-1), e.Tag[:])
	f.Add(e.EventID[:], int64(253402300799), "p", uint32(1), "GET /", "a\na", uint8(2), "x", uint32(0), e.Tag[:])
	f.Fuzz(func(t *testing.T, id []byte, sec int64, partner string, agreement uint32, endpoint, scopes string, decision uint8, reason string, items uint32, tag []byte) {
		in := accesslog.Entry{Time: time.Unix(sec, 0), PartnerID: partner, AgreementVersion: agreement, Endpoint: endpoint,
			Decision: accesslog.Decision(decision), Reason: reason, Items: items}
		copy(in.EventID[:], id)
		copy(in.Tag[:], tag)
		if scopes != "" {
			in.Scopes = strings.Split(scopes, "\n")
		}
		b, err := in.MarshalBinary()
		if err != nil {
			if !errors.Is(err, accesslog.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := accesslog.DecodeEntry(b)
		if err != nil {
			t.Fatalf("encoded %+v as %x, which does not decode: %v", in, b, err)
		}
		want := in
		want.Time = time.Unix(sec-((sec%60)+60)%60, 0).UTC()
		want.Scopes = slices.Sorted(slices.Values(in.Scopes))
		if !reflect.DeepEqual(*out, want) {
			t.Fatalf("decode(encode(x)):\n got %+v\nwant %+v", *out, want)
		}
	})
}

// signedNote signs text with the fuzz key; ok is false for text that is
// not a note's text (not ending in a newline, invalid UTF-8...).
func signedNote(k *accesslog.Key, text string) ([]byte, bool) {
	b, err := note.Sign(&note.Note{Text: text}, k.Signer)
	return b, err == nil
}

// FuzzCheckpoint opens arbitrary bytes as a checkpoint, and arbitrary text
// signed with the log key. Property: only a note signed by the key is
// accepted; an accepted checkpoint's text starts with exactly its origin
// (the key's name), its size in canonical decimal and its root hash in
// base64, so formatting what was parsed gives the text back.
func FuzzCheckpoint(f *testing.F) {
	k := fuzzKey()
	good := fmt.Sprintf("%s\n42\n%s\n", k.Signer.Name(), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, 32)))
	signed, _ := signedNote(k, good)
	f.Add(good, signed)
	f.Add(good+"extension line\n", []byte(good))
	f.Add(strings.Replace(good, "42", "042", 1), []byte{})
	f.Add(strings.Replace(good, "42", "+42", 1), []byte("\n\n\n"))
	f.Add(k.Signer.Name()+"\n1\n"+strings.Repeat("A", 44)+"\n", bytes.Replace(signed, []byte("42"), []byte("43"), 1))
	f.Fuzz(func(t *testing.T, text string, raw []byte) {
		// Raw bytes: accepted only if they are a note the key signed.
		if cp, err := accesslog.OpenCheckpoint(raw, k.Verifier); err == nil {
			n, err := note.Open(raw, note.VerifierList(k.Verifier))
			if err != nil {
				t.Fatalf("accepted %q, which the key did not sign: %v", raw, err)
			}
			checkParsed(t, cp, n.Text, k)
		}
		// Text signed by the key: accepted only if well formed.
		signed, ok := signedNote(k, text)
		if !ok {
			return
		}
		cp, err := accesslog.OpenCheckpoint(signed, k.Verifier)
		if err != nil {
			return
		}
		checkParsed(t, cp, text, k)
	})
}

// checkParsed checks that cp is what text says.
func checkParsed(t *testing.T, cp *accesslog.Checkpoint, text string, k *accesslog.Key) {
	t.Helper()
	head := fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash[:]))
	if cp.Origin != k.Verifier.Name() || !strings.HasPrefix(text, head) {
		t.Fatalf("checkpoint %q parsed as origin %q, size %d, hash %x", text, cp.Origin, cp.Size, cp.Hash)
	}
}

// FuzzReceipt verifies arbitrary Glasshouse-Receipt values, and signs a
// receipt for arbitrary bytes taken as an entry. Property: an accepted
// receipt is signed by the key and written canonically (its first five
// fields are exactly what formatting its values gives); errors wrap
// ErrBadReceipt; a receipt signed for an entry verifies and checks that
// entry, and no other.
func FuzzReceipt(f *testing.F) {
	k := fuzzKey()
	vector, _ := hex.DecodeString(vectorHex)
	good, err := accesslog.SignReceipt(k.Signer, vector)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, vector)
	f.Add(" "+good+"\t", []byte{})
	f.Add(strings.Replace(good, "v1.", "v2.", 1), vector[:10])
	f.Add(strings.ToUpper(good), append(slices.Clone(vector), 1))
	f.Add("v1.....", MustEncode(f, testEntry(f, 3)))
	f.Fuzz(func(t *testing.T, header string, entry []byte) {
		if r, err := accesslog.VerifyReceipt(header, k.Verifier); err != nil {
			if !errors.Is(err, accesslog.ErrBadReceipt) {
				t.Fatalf("error %v does not wrap ErrBadReceipt", err)
			}
		} else {
			fields := strings.Split(strings.TrimSpace(header), ".")
			want := []string{"v1", r.EventID.String(), strconv.FormatInt(r.Time.Unix(), 10), hex.EncodeToString(r.LeafHash[:]), fmt.Sprintf("%08x", r.KeyHash)}
			if len(fields) != 6 || !slices.Equal(fields[:5], want) || r.KeyHash != k.Verifier.KeyHash() || r.Time.Unix()%60 != 0 {
				t.Fatalf("accepted %q as %+v", header, r)
			}
		}
		signed, err := accesslog.SignReceipt(k.Signer, entry)
		if err != nil {
			return // not an entry: FuzzEntry covers which
		}
		r, err := accesslog.VerifyReceipt(signed, k.Verifier)
		if err != nil {
			t.Fatalf("own receipt %q refused: %v", signed, err)
		}
		if err := r.Check(entry); err != nil {
			t.Fatalf("own receipt does not check its entry: %v", err)
		}
		if err := r.Check(append(slices.Clone(entry), 0)); err == nil {
			t.Fatalf("receipt checks another entry")
		}
	})
}
