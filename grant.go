package glasshouse

import (
	"context"
	"time"
)

// GrantLifetime is how long a member's consent lasts unless reconfirmed; it
// also ends with the agreement.
const GrantLifetime = 90 * 24 * time.Hour

// Grant is one member's consent to one partner: the data scopes ticked, the
// choices made on the consent screen, and when it ends. A member has at most
// one live grant per partner; consenting again replaces it.
type Grant struct {
	ID               int64     `json:"id"`
	MemberID         int64     `json:"-"`
	PartnerID        int64     `json:"partner_id"`
	PartnerName      string    `json:"partner_name"`
	AgreementVersion int       `json:"agreement_version"`
	Scopes           []string  `json:"scopes"`                  // ticked data scopes, a subset of the agreement's
	RealEmail        bool      `json:"real_email"`              // email scope: the real address instead of the relay
	Conversations    []int64   `json:"conversations,omitempty"` // messages.read: the conversations picked
	RelayEmail       string    `json:"relay_email,omitempty"`   // this member's relay address at this partner
	RelayEnabled     bool      `json:"relay_enabled"`           // false once the member cut the relay off
	GrantedAt        time.Time `json:"granted_at"`              // first consent
	ConfirmedAt      time.Time `json:"confirmed_at"`            // last consent or reconfirmation
	ExpiresAt        time.Time `json:"expires_at"`              // min(ConfirmedAt+GrantLifetime, agreement expiry)
}

// Live reports whether the grant is in force at now.
func (g *Grant) Live(now time.Time) bool { return now.Before(g.ExpiresAt) }

// GrantStore keeps consent. Revoking (a grant or one scope) also revokes, in
// the same transaction, every token that carries what was revoked, so the
// partner's next call fails.
type GrantStore interface {
	// SaveGrant records consent: it replaces the scopes and choices of any
	// existing grant of g.MemberID to g.PartnerID, sets ConfirmedAt and
	// ExpiresAt from g, keeps GrantedAt and the relay address of an
	// existing grant, and creates the relay address (relayEmail) otherwise.
	SaveGrant(ctx context.Context, g Grant, relayEmail string) (*Grant, error)
	// Grant returns memberID's grant to partnerID, expired or not.
	// ENOTFOUND if there is none (never granted, or revoked).
	Grant(ctx context.Context, memberID, partnerID int64) (*Grant, error)
	// Grants lists memberID's grants, newest first.
	Grants(ctx context.Context, memberID int64) ([]*Grant, error)
	// RevokeGrant deletes the grant and revokes its tokens. ENOTFOUND.
	RevokeGrant(ctx context.Context, memberID, partnerID int64) error
	// RevokeScope removes one scope from the grant and revokes every token
	// carrying it. ENOTFOUND if the grant or scope is absent.
	RevokeScope(ctx context.Context, memberID, partnerID int64, scope string) error
	// SetRelayEnabled turns the relay address on or off. ENOTFOUND.
	SetRelayEnabled(ctx context.Context, memberID, partnerID int64, enabled bool) error
	// GrantingFriends returns, in ascending member id order after afterID,
	// up to limit friends of memberID whose own live grant to partnerID
	// includes scope.
	GrantingFriends(ctx context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]int64, error)
	// FriendsWithGrants is GrantingFriends with what a partner's friends
	// listing may show of each friend and the friend's grant, read together
	// in one snapshot: one page of the listing.
	FriendsWithGrants(ctx context.Context, memberID, partnerID int64, scope string, now time.Time, afterID int64, limit int) ([]FriendGrant, error)
}

// FriendGrant is one friend in a partner's friends listing, with no more
// than the listing can use: a friend's handle, email and phone are never
// loaded for it.
type FriendGrant struct {
	// Member holds ID, DisplayName, PictureURL and Visibility only.
	Member *Member
	// Grant, the friend's own grant to the partner, holds MemberID,
	// PartnerID, Scopes and ExpiresAt only.
	Grant *Grant
}
