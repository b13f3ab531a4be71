package glasshouse

import (
	"context"
	"time"
)

// Operator is a member who runs the platform: they may use the operator
// pages (/admin) to approve agreements and suspend partners, as the
// `glasshouse partner` commands do on the server's own machine.
type Operator struct {
	Member    *Member   `json:"member"`
	GrantedAt time.Time `json:"granted_at"`
}

// OperatorStore keeps which members are operators. Operators are named with
// `glasshouse operator add HANDLE` on the server's machine, never through
// the web.
type OperatorStore interface {
	// SetOperator makes memberID an operator (on) or withdraws it.
	// ENOTFOUND if the member is absent, or (off) is not an operator;
	// ECONFLICT (on) if it already is one.
	SetOperator(ctx context.Context, memberID int64, on bool) error
	// IsOperator reports whether memberID is an operator; false for an
	// absent member.
	IsOperator(ctx context.Context, memberID int64) (bool, error)
	// Operators lists the operators, the longest-serving first.
	Operators(ctx context.Context) ([]*Operator, error)
}

// AccessTotals counts a partner's access records: the requests that
// carried one of its verified tokens, served or refused. Records go with
// their member, so a deleted member's accesses no longer count.
type AccessTotals struct {
	Granted int64 `json:"granted"`
	Denied  int64 `json:"denied"`
}

// All is every access, granted or denied.
func (t AccessTotals) All() int64 { return t.Granted + t.Denied }

// ScopeUsage counts a partner's accesses with one scope, one decision and
// one reason. A request that used several scopes counts once under each.
type ScopeUsage struct {
	Scope   string `json:"scope"`
	Granted bool   `json:"granted"`
	Reason  string `json:"reason,omitempty"` // "" when granted; else the refusal's code
	Count   int64  `json:"count"`
}

// DayUsage counts a partner's accesses on one UTC day.
type DayUsage struct {
	Day     time.Time `json:"day"` // midnight UTC
	Granted int64     `json:"granted"`
	Denied  int64     `json:"denied"`
}

// PartnerUsage is what a partner did over a window of time, as its portal
// shows it: counts and its most recent receipts. It never names a member.
type PartnerUsage struct {
	Since, Until time.Time    // the window: Since inclusive, Until exclusive
	Window       AccessTotals // the accesses in the window
	Total        AccessTotals // every access the partner ever made
	// ByScope is per scope (in DataScopes order, unknown scopes after),
	// then granted before denied, then by reason.
	ByScope []ScopeUsage
	// ByDay holds only the days of the window with accesses, oldest first.
	ByDay []DayUsage
	// Receipts are the partner's latest access records in the window,
	// newest first: event id, time, endpoint, scopes, decision, items,
	// agreement version and log index. Their MemberID and Counter are
	// left zero: a partner never learns whom a record is about.
	Receipts []*AccessRecord
}

// MaxUsageWindow is the longest window PartnerUsage accepts.
const MaxUsageWindow = 366 * 24 * time.Hour

// PartnerStatsStore reads what the partner portal and the consent screen
// show about a partner.
type PartnerStatsStore interface {
	// PartnerUsage counts partnerID's accesses in [since, until) by scope,
	// decision and day, with its total over all time and up to receipts
	// of its latest records in the window (0 means DefaultPageSize). EINVALID
	// for an empty window, one longer than MaxUsageWindow, or receipts
	// outside 0 to MaxPageSize. An unknown partner has no accesses.
	PartnerUsage(ctx context.Context, partnerID int64, since, until time.Time, receipts int) (*PartnerUsage, error)
	// PartnerAccessTotals counts every access partnerID ever made, across
	// the platform: the consent screen's "this app has made N accesses".
	PartnerAccessTotals(ctx context.Context, partnerID int64) (AccessTotals, error)
	// Agreements lists every version of partnerID's agreement, newest
	// first. ENOTFOUND if the partner is absent.
	Agreements(ctx context.Context, partnerID int64) ([]*Agreement, error)
}
