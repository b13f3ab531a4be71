package glasshouse

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Scopes a partner may ask for. openid and offline_access are protocol
// scopes; the others reach member data, each narrowly.
const (
	ScopeOpenID       = "openid"
	ScopeOffline      = "offline_access"
	ScopeProfile      = "profile"       // display name and picture, as the member's visibility allows
	ScopeEmail        = "email"         // a per-partner relay address unless the member picks the real one
	ScopePhone        = "phone"         // the real number, only by the member's explicit choice
	ScopeFriends      = "friends"       // friends who granted the same partner, as pairwise ids
	ScopeMessagesSend = "messages.send" // send to one friend on the member's behalf; no read
	ScopeMessagesRead = "messages.read" // only the conversations picked at consent; restricted
)

// DataScopes are the scopes that reach member data, in the order the consent
// screen shows them.
var DataScopes = []string{ScopeProfile, ScopeEmail, ScopePhone, ScopeFriends, ScopeMessagesSend, ScopeMessagesRead}

// ScopeDescriptions say each data scope in plain words, for consent screens.
var ScopeDescriptions = map[string]string{
	ScopeProfile:      "See your display name and picture (as your visibility settings allow)",
	ScopeEmail:        "Get an email address for you (a private relay address unless you choose your real one)",
	ScopePhone:        "See your phone number",
	ScopeFriends:      "See which of your friends also use this app",
	ScopeMessagesSend: "Send a message to one of your friends when you ask it to (it cannot read your messages)",
	ScopeMessagesRead: "Read the conversations you pick below, and no others",
}

// ValidateScopes checks that every scope is a known data scope, once.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return Errorf(EINVALID, "At least one scope is required.")
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		if !slices.Contains(DataScopes, s) {
			return Errorf(EINVALID, "Unknown scope %q; known scopes: %s.", s, strings.Join(DataScopes, ", "))
		}
		if seen[s] {
			return Errorf(EINVALID, "Scope %q is listed twice.", s)
		}
		seen[s] = true
	}
	return nil
}

// Partner statuses.
const (
	PartnerPending   = "pending"   // registered, agreement not yet approved
	PartnerApproved  = "approved"  // may run the OAuth flow and call the Graph API
	PartnerSuspended = "suspended" // refused from its next request on
)

// Partner is a third-party app: an OAuth client bound to an agreement.
type Partner struct {
	ID           int64     `json:"id"`
	ClientID     string    `json:"client_id"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirect_uris"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
}

// Agreement is one version of a partner's data-sharing agreement. A change
// of scopes is a new version; members consent to a version's scopes.
type Agreement struct {
	PartnerID          int64     `json:"partner_id"`
	Version            int       `json:"version"`
	Scopes             []string  `json:"scopes"`
	Purpose            string    `json:"purpose"`
	RetentionDays      int       `json:"retention_days"`
	ExpiresAt          time.Time `json:"expires_at"`
	SecurityAssessedAt time.Time `json:"security_assessed_at,omitzero"` // required for messages.read
	ApprovedAt         time.Time `json:"approved_at,omitzero"`          // zero until the operator approves
	CreatedAt          time.Time `json:"created_at"`
}

// MaxAssessmentAge is how old a security assessment may be for an agreement
// with messages.read to be approved or used.
const MaxAssessmentAge = 365 * 24 * time.Hour

// NewPartner is what the operator registers.
type NewPartner struct {
	Name               string
	RedirectURIs       []string
	Scopes             []string
	Purpose            string
	RetentionDays      int
	ExpiresAt          time.Time
	SecurityAssessedAt time.Time
}

// Validate checks a registration.
func (p *NewPartner) Validate(now time.Time) error {
	if n := utf8.RuneCountInString(p.Name); !utf8.ValidString(p.Name) || n < 2 || n > 60 || strings.TrimSpace(p.Name) != p.Name {
		return Errorf(EINVALID, "Partner name must be 2 to 60 characters without leading or trailing spaces.")
	}
	// Members see the name on the consent screen and on every message
	// the partner sends for them.
	if err := checkLine("Partner name", p.Name); err != nil {
		return err
	}
	if len(p.RedirectURIs) == 0 {
		return Errorf(EINVALID, "At least one redirect URI is required.")
	}
	for _, r := range p.RedirectURIs {
		if err := validateRedirectURI(r); err != nil {
			return err
		}
	}
	if err := ValidateScopes(p.Scopes); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(p.Purpose); !utf8.ValidString(p.Purpose) || n < 10 || n > 500 {
		return Errorf(EINVALID, "Purpose must say in 10 to 500 characters what the data is for.")
	}
	if p.RetentionDays < 0 || p.RetentionDays > 3650 {
		return Errorf(EINVALID, "Retention must be 0 to 3650 days.")
	}
	if !p.ExpiresAt.After(now) {
		return Errorf(EINVALID, "The agreement must expire in the future.")
	}
	if !p.SecurityAssessedAt.IsZero() && p.SecurityAssessedAt.After(now) {
		return Errorf(EINVALID, "The security assessment date cannot be in the future.")
	}
	return nil
}

// validateRedirectURI accepts absolute https URIs, and http only on loopback
// (RFC 8252 §7.3 and local development), without fragments.
func validateRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Fragment != "" || len(s) > 2048 {
		return Errorf(EINVALID, "Redirect URI %q must be an absolute URL without a fragment.", s)
	}
	host := u.Hostname()
	loopback := host == "127.0.0.1" || host == "localhost" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return Errorf(EINVALID, "Redirect URI %q must use https (http only on loopback).", s)
	}
	return nil
}

// PartnerStore keeps partners, their credentials and agreements.
type PartnerStore interface {
	// CreatePartner registers p with agreement version 1 and a client
	// secret hash; status pending. Returns the partner (ClientID set).
	CreatePartner(ctx context.Context, p NewPartner, clientID string, secretHash []byte) (*Partner, error)
	// Partners lists every partner, oldest first.
	Partners(ctx context.Context) ([]*Partner, error)
	// PartnerByClientID returns a partner. ENOTFOUND if absent.
	PartnerByClientID(ctx context.Context, clientID string) (*Partner, error)
	// PartnerSecretHash returns the stored client-secret hash. ENOTFOUND.
	PartnerSecretHash(ctx context.Context, clientID string) ([]byte, error)
	// PortalEpoch returns the partner's portal session epoch: a session
	// signed under an earlier one is over. ENOTFOUND.
	PortalEpoch(ctx context.Context, clientID string) (int64, error)
	// EndPortalSessions moves the partner's portal epoch on, ending every
	// portal session signed before. ENOTFOUND.
	EndPortalSessions(ctx context.Context, clientID string) error
	// CurrentAgreement returns the newest approved version, ENOTFOUND if none.
	CurrentAgreement(ctx context.Context, partnerID int64) (*Agreement, error)
	// LatestAgreement returns the newest version, approved or not.
	LatestAgreement(ctx context.Context, partnerID int64) (*Agreement, error)
	// ProposeAgreement adds a new version (unapproved). EINVALID, ENOTFOUND.
	ProposeAgreement(ctx context.Context, partnerID int64, a Agreement) (*Agreement, error)
	// ApproveAgreement approves the newest version and sets a pending
	// partner approved (a suspended one stays suspended). In the same
	// transaction it takes every scope that the new version lacks out of
	// every member's grant to the partner (and the conversations picked,
	// with messages.read): a scope an agreement dropped is gone for good,
	// and a later version that asks for it again needs each member's
	// consent again. EFORBIDDEN when it has messages.read without a
	// security assessment at most MaxAssessmentAge old; ECONFLICT if
	// already approved.
	ApproveAgreement(ctx context.Context, clientID string, now time.Time) (*Agreement, error)
	// SetPartnerStatus suspends or resumes (PartnerApproved) a partner.
	// ECONFLICT when resuming a partner with no approved agreement.
	SetPartnerStatus(ctx context.Context, clientID, status string) (*Partner, error)
}

// What an AgreementEvent records.
const (
	AgreementApproved  = "approved"  // the operator approved the version
	AgreementSuspended = "suspended" // the partner was suspended
	AgreementResumed   = "resumed"   // its suspension ended
	AgreementExpired   = "expired"   // the version in force expired
)

// AgreementEvent is one change of a partner's agreement that the public
// transparency log holds, as an entry of its own, written in the same
// transaction as the change.
type AgreementEvent struct {
	EventID     [16]byte  `json:"-"`
	Version     int       `json:"version"`
	Action      string    `json:"action"`       // AgreementApproved, …
	EffectiveAt time.Time `json:"effective_at"` // when it took effect
	LogIndex    uint64    `json:"-"`            // its entry's index, once Integrated
	Integrated  bool      `json:"-"`
}

// AgreementLogStore keeps the log's record of agreement changes.
type AgreementLogStore interface {
	// AgreementEvents lists partnerID's logged agreement changes in the
	// order they were made. An unknown partner has none.
	AgreementEvents(ctx context.Context, partnerID int64) ([]*AgreementEvent, error)
	// LogAgreementChanges logs what the log lacks at now: an approved
	// version without its approval entry (an agreement approved before
	// agreements were logged), the expiry of a partner's version in force,
	// and a partner status that differs from the last one logged. It
	// returns how many entries it wrote.
	LogAgreementChanges(ctx context.Context, now time.Time) (int, error)
}
