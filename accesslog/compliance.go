package accesslog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rules a granted access can break, as Finding.Rule names them.
const (
	RuleUnlogged  = "unlogged_agreement" // no approval of the access's agreement version precedes it in the log
	RuleScope     = "scope_not_agreed"   // it used a scope its agreement version does not list
	RuleEarly     = "before_approval"    // its minute ended before its agreement version took effect
	RuleSuspended = "while_suspended"    // its minute began after a logged suspension that no resumption ended
	RuleExpired   = "after_expiry"       // its minute began after its agreement version expired
)

// Finding is a granted access that the log shows outside the terms the
// log holds for it.
type Finding struct {
	Index   uint64    `json:"index"`
	EventID EventID   `json:"event_id"`
	Partner string    `json:"partner"`
	Version uint32    `json:"agreement_version"`
	Time    time.Time `json:"time"` // the access's minute
	Scopes  []string  `json:"scopes"`
	Rule    string    `json:"rule"`
	Detail  string    `json:"detail"`
}

func (f Finding) String() string {
	return fmt.Sprintf("entry %d (%s): %s %s v%d [%s] at %s: %s", f.Index, f.EventID, f.Rule, f.Partner, f.Version,
		strings.Join(f.Scopes, " "), f.Time.Format(time.RFC3339), f.Detail)
}

// LoggedAgreement is one agreement entry and where it is in the log.
type LoggedAgreement struct {
	Index uint64
	*AgreementEntry
}

// MarshalJSON implements json.Marshaler: the entry with its index.
func (l LoggedAgreement) MarshalJSON() ([]byte, error) {
	return json.Marshal(l.asJSON(&l.Index))
}

// PartnerHistory is a partner's agreement history as the log tells it.
type PartnerHistory struct {
	Partner string            `json:"partner"`
	Entries []LoggedAgreement `json:"entries"` // in log order
	// Approved holds each approved version's entry, by version.
	Approved map[uint32]*AgreementEntry `json:"-"`
	// Suspended is true while the last status entry is a suspension;
	// since is its time.
	Suspended bool      `json:"suspended"`
	since     time.Time // of the suspension in force
}

// Compliance rebuilds every partner's agreement history from the log's
// agreement entries and checks each granted access against the history
// logged before it. Feed it the entries in log order (Verify's Entry and
// Agreement callbacks). Denied accesses gave no data and break no rule.
//
// It is conservative about time: an access entry holds only its minute,
// so an access is said to be outside a period only when its whole minute
// is. The order of the log is exact: an approval must precede, in the
// log, every access under it, as the server commits the approval before
// any request can use it.
type Compliance struct {
	Partners map[string]*PartnerHistory
	Findings []Finding
	// Checked counts the granted accesses checked.
	Checked uint64
}

// NewCompliance returns an empty check.
func NewCompliance() *Compliance { return &Compliance{Partners: map[string]*PartnerHistory{}} }

// Agreement adds an agreement entry at index to its partner's history.
func (c *Compliance) Agreement(index uint64, a *AgreementEntry) {
	h := c.Partners[a.PartnerID]
	if h == nil {
		h = &PartnerHistory{Partner: a.PartnerID, Approved: map[uint32]*AgreementEntry{}}
		c.Partners[a.PartnerID] = h
	}
	cp := *a
	cp.Scopes = slices.Clone(a.Scopes)
	h.Entries = append(h.Entries, LoggedAgreement{Index: index, AgreementEntry: &cp})
	switch a.Action {
	case Approved:
		h.Approved[a.Version] = &cp
	case Suspended:
		h.Suspended, h.since = true, a.Time
	case Resumed:
		h.Suspended = false
	}
}

// Access checks a granted access entry at index against the history
// logged so far, and notes each rule it breaks.
func (c *Compliance) Access(index uint64, e *Entry) {
	if e.Decision != Granted {
		return
	}
	c.Checked++
	minute := e.Time.UTC()
	find := func(rule, format string, args ...any) {
		c.Findings = append(c.Findings, Finding{Index: index, EventID: e.EventID, Partner: e.PartnerID, Version: e.AgreementVersion,
			Time: minute, Scopes: slices.Clone(e.Scopes), Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	h := c.Partners[e.PartnerID]
	var a *AgreementEntry
	if h != nil {
		a = h.Approved[e.AgreementVersion]
	}
	if a == nil {
		find(RuleUnlogged, "no approval of version %d of %s's agreement precedes this access in the log", e.AgreementVersion, e.PartnerID)
		return
	}
	var outside []string
	for _, s := range e.Scopes {
		if !slices.Contains(a.Scopes, s) {
			outside = append(outside, s)
		}
	}
	if len(outside) > 0 {
		find(RuleScope, "used %s; version %d (entry approved %s) allows only %s", strings.Join(outside, " "), a.Version,
			a.Time.Format(time.RFC3339), strings.Join(a.Scopes, " "))
	}
	if !minute.Add(time.Minute).After(a.Time) {
		find(RuleEarly, "version %d took effect only at %s", a.Version, a.Time.Format(time.RFC3339))
	}
	if h.Suspended && !minute.Before(h.since) {
		find(RuleSuspended, "%s was suspended at %s", e.PartnerID, h.since.Format(time.RFC3339))
	}
	if !minute.Before(a.Expires) {
		find(RuleExpired, "version %d expired at %s", a.Version, a.Expires.Format(time.RFC3339))
	}
}

// Sorted returns the partners' histories by partner id.
func (c *Compliance) Sorted() []*PartnerHistory {
	out := make([]*PartnerHistory, 0, len(c.Partners))
	for _, h := range c.Partners {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b *PartnerHistory) int { return strings.Compare(a.Partner, b.Partner) })
	return out
}
