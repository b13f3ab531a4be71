package accesslog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
)

// AgreementKind is the first byte of an agreement entry: the kind and
// version of the encoding, as Version (0x01) is an access entry's.
const AgreementKind = 0x02

// Action is what an agreement entry records.
type Action uint8

// Actions. The zero value is invalid.
const (
	Approved  Action = 1 // the operator approved the version: it is in force from Time
	Suspended Action = 2 // the partner was suspended: no access from Time
	Resumed   Action = 3 // the suspension ended at Time
	Expired   Action = 4 // the version expired at Time (its Expires)
)

var actionNames = [...]string{Approved: "approved", Suspended: "suspended", Resumed: "resumed", Expired: "expired"}

func (a Action) String() string {
	if a >= Approved && a <= Expired {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// MarshalText implements encoding.TextMarshaler (JSON uses it).
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// AgreementEntry is one change of a partner's agreement, as the log holds
// it: an approval of a version, a suspension, a resumption or an expiry.
// The full terms are served at a stable URL; the entry holds their hash.
type AgreementEntry struct {
	EventID   EventID
	Time      time.Time // when the change takes effect; encoded in whole seconds, UTC
	PartnerID string    // the partner's OAuth client id
	Version   uint32    // the agreement version the change is about (≥ 1)
	Action    Action
	Scopes    []string  // the version's data scopes; encoded sorted
	Expires   time.Time // when the version expires; whole seconds
	TermsHash [32]byte  // SHA-256 of the version's terms document (TermsDocument)
}

// MarshalBinary returns the canonical encoding of a (docs/log-format.md).
// It truncates the times to the second and sorts Scopes; every other field
// must already be valid, or the error wraps ErrMalformed.
func (a *AgreementEntry) MarshalBinary() ([]byte, error) {
	scopes := slices.Clone(a.Scopes)
	slices.Sort(scopes)
	at, expires := a.Time.Unix(), a.Expires.Unix()
	if err := a.validate(at, expires, scopes); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128+len(a.PartnerID)+16*len(scopes))
	b = append(b, AgreementKind)
	b = append(b, a.EventID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = appendStr8(b, a.PartnerID)
	b = binary.BigEndian.AppendUint32(b, a.Version)
	b = append(b, byte(a.Action))
	b = append(b, byte(len(scopes)))
	for _, s := range scopes {
		b = appendStr8(b, s)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	b = append(b, a.TermsHash[:]...)
	return b, nil
}

func (a *AgreementEntry) validate(at, expires int64, scopes []string) error {
	switch {
	case a.EventID == EventID{}:
		return malformed("event id is zero")
	case at < 0 || at > maxTimeSec:
		return malformed("time %d is outside 1970..9999", at)
	case expires < 0 || expires > maxTimeSec:
		return malformed("expiry %d is outside 1970..9999", expires)
	case !isToken(a.PartnerID, 1, 255, false):
		return malformed("partner id %q must be 1 to 255 printable ASCII bytes without spaces", a.PartnerID)
	case a.Version == 0:
		return malformed("agreement version 0")
	case a.Action < Approved || a.Action > Expired:
		return malformed("action %d is not one of approved (1), suspended (2), resumed (3), expired (4)", uint8(a.Action))
	case len(scopes) == 0 || len(scopes) > maxScopes:
		return malformed("%d scopes; an agreement has 1 to %d", len(scopes), maxScopes)
	case a.TermsHash == [32]byte{}:
		return malformed("terms hash is zero")
	}
	return validScopes(scopes)
}

// UnmarshalBinary decodes a canonical agreement entry; anything else is an
// error wrapping ErrMalformed.
func (a *AgreementEntry) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if k := d.u8(); d.err == nil && k != AgreementKind {
		return malformed("kind %d, want an agreement entry (%d)", k, AgreementKind)
	}
	var out AgreementEntry
	copy(out.EventID[:], d.n(16))
	at := d.u64()
	out.PartnerID = d.str8()
	out.Version = d.u32()
	out.Action = Action(d.u8())
	out.Scopes = d.scopes()
	expires := d.u64()
	copy(out.TermsHash[:], d.n(32))
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return malformed("%d trailing bytes", len(d.b))
	}
	if at > maxTimeSec || expires > maxTimeSec {
		return malformed("a time is outside 1970..9999")
	}
	if !slices.IsSorted(out.Scopes) {
		return malformed("scopes are not sorted")
	}
	if err := out.validate(int64(at), int64(expires), out.Scopes); err != nil {
		return err
	}
	out.Time = time.Unix(int64(at), 0).UTC()
	out.Expires = time.Unix(int64(expires), 0).UTC()
	*a = out
	return nil
}

// AnyEntry is one decoded log entry of either kind: exactly one of Access
// and Agreement is set.
type AnyEntry struct {
	Access    *Entry
	Agreement *AgreementEntry
}

// EventID returns the entry's event id.
func (e AnyEntry) EventID() EventID {
	if e.Agreement != nil {
		return e.Agreement.EventID
	}
	return e.Access.EventID
}

// DecodeAny decodes a log entry of either kind by its first byte.
func DecodeAny(b []byte) (AnyEntry, error) {
	if len(b) > 0 && b[0] == AgreementKind {
		var a AgreementEntry
		if err := a.UnmarshalBinary(b); err != nil {
			return AnyEntry{}, err
		}
		return AnyEntry{Agreement: &a}, nil
	}
	e, err := DecodeEntry(b)
	if err != nil {
		return AnyEntry{}, err
	}
	return AnyEntry{Access: e}, nil
}

// Terms are the terms of one agreement version, as the terms document
// holds them: what the entry's TermsHash commits to.
type Terms struct {
	Partner            string   `json:"partner"` // OAuth client id
	Version            int      `json:"version"`
	Scopes             []string `json:"scopes"` // sorted bytewise
	Purpose            string   `json:"purpose"`
	RetentionDays      int      `json:"retention_days"`
	ExpiresAt          string   `json:"expires_at"`           // RFC 3339, UTC, whole seconds
	SecurityAssessedAt string   `json:"security_assessed_at"` // the same, or "" when none
}

// TermsOf returns the terms of agreement a of the partner with client id
// clientID.
func TermsOf(clientID string, a *glasshouse.Agreement) Terms {
	scopes := slices.Clone(a.Scopes)
	slices.Sort(scopes)
	t := Terms{Partner: clientID, Version: a.Version, Scopes: scopes, Purpose: a.Purpose,
		RetentionDays: a.RetentionDays, ExpiresAt: rfc3339(a.ExpiresAt)}
	if !a.SecurityAssessedAt.IsZero() {
		t.SecurityAssessedAt = rfc3339(a.SecurityAssessedAt)
	}
	return t
}

func rfc3339(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Document returns the terms document: the JSON encoding of t (fields in
// the order above, no spaces), as served at
// /api/v1/partners/{client id}/agreements/{version}/terms.
func (t Terms) Document() []byte {
	b, _ := json.Marshal(t)
	return b
}

// Hash returns SHA-256 of the terms document.
func (t Terms) Hash() [32]byte { return sha256.Sum256(t.Document()) }

// AgreementEntryOf returns the entry for a change (action, effective at)
// of agreement a of the partner with client id clientID.
func AgreementEntryOf(id EventID, clientID string, a *glasshouse.Agreement, action Action, at time.Time) *AgreementEntry {
	return &AgreementEntry{EventID: id, Time: at, PartnerID: clientID, Version: uint32(a.Version), Action: action,
		Scopes: a.Scopes, Expires: a.ExpiresAt, TermsHash: TermsOf(clientID, a).Hash()}
}

// agreementJSON is an agreement entry as JSON shows it (audit report
// --json, audit watch --json).
type agreementJSON struct {
	Index     *uint64   `json:"index,omitempty"`
	EventID   EventID   `json:"event_id"`
	Time      time.Time `json:"time"`
	Partner   string    `json:"partner"`
	Version   uint32    `json:"agreement_version"`
	Action    Action    `json:"action"`
	Scopes    []string  `json:"scopes"`
	Expires   time.Time `json:"expires"`
	TermsHash string    `json:"terms_hash"` // hex
}

func (a *AgreementEntry) asJSON(index *uint64) agreementJSON {
	return agreementJSON{Index: index, EventID: a.EventID, Time: a.Time, Partner: a.PartnerID, Version: a.Version,
		Action: a.Action, Scopes: a.Scopes, Expires: a.Expires, TermsHash: hex.EncodeToString(a.TermsHash[:])}
}

// MarshalJSON implements json.Marshaler.
func (a *AgreementEntry) MarshalJSON() ([]byte, error) { return json.Marshal(a.asJSON(nil)) }
