package accesslog

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// ReceiptHeader is the response header that carries a receipt.
const ReceiptHeader = "Glasshouse-Receipt"

// receiptLabel starts every signed receipt statement. A checkpoint starts
// with the log's origin instead, so one can never pass for the other.
const receiptLabel = "glasshouse/receipt/v1"

// ErrBadReceipt is wrapped by every error of VerifyReceipt and Receipt.Check.
var ErrBadReceipt = errors.New("bad receipt")

// Receipt is the log's signed statement that it recorded an entry: the
// entry's RFC 6962 leaf hash, its event id and its (minute) time. A partner
// keeps it; once the entry is integrated, GET /log/receipt/{event id} gives
// its index, and the tiles prove the entry with this hash is in the log.
type Receipt struct {
	EventID  EventID
	Time     time.Time
	LeafHash [32]byte
	KeyHash  uint32 // the note key hash of the signing key
}

// SignReceipt returns the Glasshouse-Receipt header value for an encoded
// entry:
//
//	v1.<event id hex>.<unix time>.<leaf hash hex>.<key hash hex>.<base64url signature>
//
// The Ed25519 signature (by the log key, through s) covers the statement
// returned by receiptStatement (docs/log-format.md).
func SignReceipt(s note.Signer, entry []byte) (string, error) {
	var e Entry
	if err := e.UnmarshalBinary(entry); err != nil {
		return "", fmt.Errorf("receipt: %w", err)
	}
	return signReceipt(s, &e, entry)
}

// signReceipt is SignReceipt for an entry whose decoded form the caller
// has: entry is e's encoding.
func signReceipt(s note.Signer, e *Entry, entry []byte) (string, error) {
	r := Receipt{EventID: e.EventID, Time: time.Unix(minuteOf(e.Time), 0).UTC(), LeafHash: LeafHash(entry), KeyHash: s.KeyHash()}
	sig, err := s.Sign(r.statement(s.Name()))
	if err != nil {
		return "", fmt.Errorf("receipt: %w", err)
	}
	return strings.Join([]string{"v1", r.EventID.String(), strconv.FormatInt(r.Time.Unix(), 10),
		hex.EncodeToString(r.LeafHash[:]), keyHashHex(r.KeyHash), base64.RawURLEncoding.EncodeToString(sig)}, "."), nil
}

// statement is the byte string a receipt's signature covers.
func (r *Receipt) statement(origin string) []byte {
	return fmt.Appendf(nil, "%s\n%s\n%s\n%d\n%x\n", receiptLabel, origin, r.EventID, r.Time.Unix(), r.LeafHash)
}

// VerifyReceipt parses a Glasshouse-Receipt header value and checks its
// signature with the log's published verifier key. Errors wrap
// ErrBadReceipt.
func VerifyReceipt(header string, v note.Verifier) (*Receipt, error) {
	f := strings.Split(strings.TrimSpace(header), ".")
	if len(f) != 6 || f[0] != "v1" {
		return nil, badReceipt("want 6 dot-separated fields starting with v1")
	}
	var r Receipt
	var err error
	if r.EventID, err = ParseEventID(f[1]); err != nil {
		return nil, badReceipt("%v", err)
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || sec < 0 || sec%60 != 0 || sec > maxTimeSec || strconv.FormatInt(sec, 10) != f[2] {
		return nil, badReceipt("time %q is not a canonical whole minute", f[2])
	}
	r.Time = time.Unix(sec, 0).UTC()
	if len(f[3]) != 64 || !isLowerHex(f[3]) {
		return nil, badReceipt("leaf hash %q: want 64 lowercase hex digits", f[3])
	}
	hex.Decode(r.LeafHash[:], []byte(f[3]))
	if r.KeyHash, err = parseKeyHash(f[4]); err != nil {
		return nil, badReceipt("%v", err)
	}
	if r.KeyHash != v.KeyHash() {
		return nil, badReceipt("signed by key %08x, not by %s (%08x)", r.KeyHash, v.Name(), v.KeyHash())
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(f[5])
	if err != nil {
		return nil, badReceipt("signature is not base64url: %v", err)
	}
	if !v.Verify(r.statement(v.Name()), sig) {
		return nil, badReceipt("signature does not verify with %s", v.Name())
	}
	return &r, nil
}

// Check reports whether entry is the entry the receipt is for.
func (r *Receipt) Check(entry []byte) error {
	if LeafHash(entry) != r.LeafHash {
		return badReceipt("entry hash %x differs from the receipt's %x", LeafHash(entry), r.LeafHash)
	}
	if id, _ := entryEventID(entry); id != r.EventID {
		return badReceipt("entry event id %s differs from the receipt's %s", id, r.EventID)
	}
	return nil
}

func badReceipt(format string, args ...any) error {
	return fmt.Errorf("accesslog: %w: %s", ErrBadReceipt, fmt.Sprintf(format, args...))
}
