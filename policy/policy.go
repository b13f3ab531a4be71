package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Kind is what a Graph API request does. The list is closed: Decide denies
// any other kind.
type Kind string

const (
	// ReadProfile is GET /me: the member's own profile fields, as the
	// scopes and the member's visibility settings allow.
	ReadProfile Kind = "me"
	// ListFriends is GET /me/friends: the member's friends whose own live
	// grant to the same partner includes the friends scope.
	ListFriends Kind = "friends"
	// SendMessage is POST /me/messages: one message to one friend who has a
	// live grant to the same partner.
	SendMessage Kind = "messages.send"
	// ReadMessages is GET /me/conversations/{id}/messages: one conversation
	// that the member picked at consent.
	ReadMessages Kind = "messages.read"
)

// Reason codes of a denial. Each is stable: the Graph API sends it as the
// "error" of its 403 (401 for ReasonInvalidToken) response.
const (
	// ReasonInvalidToken: the token is missing, expired, revoked, not an
	// access token, or was issued to another partner.
	ReasonInvalidToken = "invalid_token"
	// ReasonAgreementNotApproved: the partner is pending, or has no
	// approved agreement.
	ReasonAgreementNotApproved = "agreement_not_approved"
	// ReasonAgreementSuspended: the operator suspended the partner.
	ReasonAgreementSuspended = "agreement_suspended"
	// ReasonAgreementExpired: the current agreement has expired.
	ReasonAgreementExpired = "agreement_expired"
	// ReasonConsentRequired: the member never granted the partner, revoked
	// the grant, or let it expire.
	ReasonConsentRequired = "consent_required"
	// ReasonInsufficientScope: the scope the request needs is missing from
	// the ceiling, the agreement, the grant or the token.
	ReasonInsufficientScope = "insufficient_scope"
	// ReasonAssessmentRequired: messages.read under an agreement without a
	// security assessment at most glasshouse.MaxAssessmentAge old.
	ReasonAssessmentRequired = "assessment_required"
	// ReasonConversationNotGranted: messages.read of a conversation that
	// the member did not pick at consent.
	ReasonConversationNotGranted = "conversation_not_granted"
	// ReasonRecipientNotGranted: messages.send to someone who is not a
	// friend with a live grant to the same partner.
	ReasonRecipientNotGranted = "recipient_not_granted"
	// ReasonUnknownRequest: a Kind that the policy does not know.
	ReasonUnknownRequest = "unknown_request"
)

// Request is what the partner asks for.
type Request struct {
	Kind Kind
	// ConversationID is, for ReadMessages, the conversation asked for; 0
	// when the partner's id names none of the conversations the member
	// picked.
	ConversationID int64
	// RecipientID is, for SendMessage, the member the message is for; 0
	// when the partner's id names no friend of the member.
	RecipientID int64
}

// Input is everything a decision depends on.
type Input struct {
	// Ceiling is the platform ceiling: the scopes that any partner may use
	// at all. Empty allows nothing.
	Ceiling []string
	// Partner is the partner that the token was issued to.
	Partner *glasshouse.Partner
	// Agreement is the partner's current approved agreement; nil if none.
	Agreement *glasshouse.Agreement
	// Grant is the member's grant to the partner; nil if none.
	Grant *glasshouse.Grant
	// Token is the access token the request carried.
	Token *glasshouse.Token
	// Request is what the partner asks for.
	Request Request
	// Recipient is, for SendMessage, the recipient's own grant to the
	// partner; nil if none.
	Recipient *glasshouse.Grant
	// Now is the time of the request.
	Now time.Time
}

// Decision is the answer to one request.
type Decision struct {
	Allow bool
	// Reason is one of the Reason codes when Allow is false, else "".
	Reason string
	// Message says the reason in words, for the partner's developers.
	Message string
	// Scopes are, when allowed, the scopes the request uses; when denied,
	// the scopes it asked for (see Asked).
	Scopes []string
}

// Needed returns the scopes of which a request of kind k needs at least one
// in its effective permission, or nil for an unknown kind.
func Needed(k Kind) []string {
	switch k {
	case ReadProfile:
		return []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopePhone, glasshouse.ScopeMessagesRead}
	case ListFriends:
		return []string{glasshouse.ScopeFriends}
	case SendMessage:
		return []string{glasshouse.ScopeMessagesSend}
	case ReadMessages:
		return []string{glasshouse.ScopeMessagesRead}
	}
	return nil
}

// Asked returns the scopes that a request of kind k carrying token t asked
// for, which a denial is recorded under: the needed scopes that the token
// carries, or, when it carries none of them, the kind's own scope (profile
// for GET /me). A GET /me by a partner that holds only messages.send thus
// counts as a refused profile read, never as an attempt at messages.read;
// by one that holds messages.read it counts under messages.read too, as
// the response would have carried the member's picked conversations.
func Asked(k Kind, t *glasshouse.Token) []string {
	needed := Needed(k)
	if t == nil || len(needed) == 0 {
		return needed[:min(len(needed), 1)]
	}
	carried := slices.DeleteFunc(slices.Clone(needed), func(s string) bool { return !slices.Contains(t.Scopes, s) })
	if len(carried) == 0 {
		return needed[:1]
	}
	return carried
}

// Effective returns the data scopes in the ceiling, the agreement, the grant
// and the token alike, in glasshouse.DataScopes order, without
// messages.read unless the agreement's security assessment is current. It
// does not check that any of them is live: Decide does.
func Effective(in Input) []string {
	eff := intersect(in)
	if !assessed(in.Agreement, in.Now) {
		eff = slices.DeleteFunc(eff, func(s string) bool { return s == glasshouse.ScopeMessagesRead })
	}
	return eff
}

// intersect returns ceiling ∩ agreement ∩ grant ∩ token over the data scopes.
func intersect(in Input) []string {
	if in.Agreement == nil || in.Grant == nil || in.Token == nil {
		return nil
	}
	var eff []string
	for _, s := range glasshouse.DataScopes {
		if slices.Contains(in.Ceiling, s) && slices.Contains(in.Agreement.Scopes, s) &&
			slices.Contains(in.Grant.Scopes, s) && slices.Contains(in.Token.Scopes, s) {
			eff = append(eff, s)
		}
	}
	return eff
}

// assessed reports whether agreement a has a security assessment at most
// glasshouse.MaxAssessmentAge old at now.
func assessed(a *glasshouse.Agreement, now time.Time) bool {
	return a != nil && !a.SecurityAssessedAt.IsZero() && !now.After(a.SecurityAssessedAt.Add(glasshouse.MaxAssessmentAge))
}

// Decide answers one request. It allows only when every check passes, in
// this order: the request kind is known; the token is a live access token of
// this partner; the partner is approved, not suspended, with a current
// approved agreement; the member's grant to the partner is live; the
// effective permission holds a needed scope; and then, for messages.read, a
// current security assessment and a picked conversation, and for
// messages.send, a recipient with a live grant to the same partner.
func Decide(in Input) Decision {
	needed := Needed(in.Request.Kind)
	deny := func(reason, format string, args ...any) Decision {
		return Decision{Reason: reason, Message: fmt.Sprintf(format, args...), Scopes: Asked(in.Request.Kind, in.Token)}
	}
	if needed == nil {
		return deny(ReasonUnknownRequest, "The Graph API has no such request.")
	}
	p, a, g, t := in.Partner, in.Agreement, in.Grant, in.Token
	if p == nil || t == nil || t.Kind != glasshouse.AccessToken || !t.Valid(in.Now) || t.PartnerID != p.ID {
		return deny(ReasonInvalidToken, "The access token is invalid, expired or revoked.")
	}
	switch p.Status {
	case glasshouse.PartnerApproved:
	case glasshouse.PartnerSuspended:
		return deny(ReasonAgreementSuspended, "The operator has suspended this app's agreement.")
	default:
		return deny(ReasonAgreementNotApproved, "This app's agreement is not approved.")
	}
	if a == nil || a.PartnerID != p.ID || a.ApprovedAt.IsZero() {
		return deny(ReasonAgreementNotApproved, "This app has no approved agreement.")
	}
	if !in.Now.Before(a.ExpiresAt) {
		return deny(ReasonAgreementExpired, "This app's agreement (version %d) expired on %s.", a.Version, a.ExpiresAt.UTC().Format(time.DateOnly))
	}
	if g == nil || g.MemberID != t.MemberID || g.PartnerID != p.ID {
		return deny(ReasonConsentRequired, "The member has not granted this app access, or revoked it.")
	}
	if !g.Live(in.Now) {
		return deny(ReasonConsentRequired, "The member's consent expired on %s; ask them to confirm it.", g.ExpiresAt.UTC().Format(time.DateOnly))
	}

	raw := intersect(in)
	used := slices.DeleteFunc(slices.Clone(needed), func(s string) bool { return !slices.Contains(raw, s) })
	if len(used) == 0 {
		return deny(ReasonInsufficientScope, "%s", missing(in, needed))
	}
	switch in.Request.Kind {
	case ReadProfile:
		if !assessed(a, in.Now) {
			used = slices.DeleteFunc(used, func(s string) bool { return s == glasshouse.ScopeMessagesRead })
		}
		if len(used) == 0 {
			return deny(ReasonAssessmentRequired, "messages.read needs an agreement with a security assessment at most 12 months old.")
		}
	case ReadMessages:
		if !assessed(a, in.Now) {
			return deny(ReasonAssessmentRequired, "messages.read needs an agreement with a security assessment at most 12 months old.")
		}
		if c := in.Request.ConversationID; c == 0 || !slices.Contains(g.Conversations, c) {
			return deny(ReasonConversationNotGranted, "The member did not pick this conversation for this app.")
		}
	case SendMessage:
		r, id := in.Recipient, in.Request.RecipientID
		if id == 0 || id == t.MemberID || r == nil || r.MemberID != id || r.PartnerID != p.ID || !r.Live(in.Now) {
			return deny(ReasonRecipientNotGranted, "The recipient must be a friend of the member who has granted this app access.")
		}
	}
	return Decision{Allow: true, Scopes: used}
}

// missing says which set lacks the needed scope.
func missing(in Input, needed []string) string {
	if len(needed) > 1 {
		return fmt.Sprintf("This request needs one of the scopes %s.", strings.Join(needed, ", "))
	}
	s := needed[0]
	switch {
	case !slices.Contains(in.Ceiling, s):
		return fmt.Sprintf("This platform does not allow the scope %s.", s)
	case !slices.Contains(in.Agreement.Scopes, s):
		return fmt.Sprintf("This app's agreement does not include the scope %s.", s)
	case !slices.Contains(in.Grant.Scopes, s):
		return fmt.Sprintf("The member did not grant the scope %s.", s)
	}
	return fmt.Sprintf("The access token does not carry the scope %s; ask the member for it.", s)
}
