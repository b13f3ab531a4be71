package policy

import (
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Profile is what GET /me may show of the member. Empty fields are left
// out of the response.
type Profile struct {
	Name          string
	Picture       string
	Email         string  // the relay address, or the real one if the member chose it
	Phone         string  // only with the phone scope
	Conversations []int64 // with messages.read: the conversations the member picked
}

// Me returns what GET /me may show of m, the member the token speaks for:
//
//   - profile: the display name and the picture, each only if the member's
//     own visibility for it is friends (a field visible to "me" alone is
//     never shown);
//   - email: the member's relay address at this partner, or the real
//     address only if the grant chose it; neither once the member has cut
//     the relay off (that one action stops the partner getting any address);
//   - phone: the number, only with the phone scope;
//   - messages.read: the conversations picked at consent, only under a
//     current security assessment.
//
// It returns an empty Profile unless Decide allows in, a ReadProfile request.
func Me(in Input, m *glasshouse.Member) Profile {
	d := Decide(in)
	if !d.Allow || in.Request.Kind != ReadProfile || m == nil || m.ID != in.Token.MemberID {
		return Profile{}
	}
	var p Profile
	g := in.Grant
	if slices.Contains(d.Scopes, glasshouse.ScopeProfile) {
		p.Name = visible(m.DisplayName, m.Visibility.DisplayName)
		p.Picture = visible(m.PictureURL, m.Visibility.PictureURL)
	}
	if slices.Contains(d.Scopes, glasshouse.ScopeEmail) && g.RelayEnabled {
		p.Email = g.RelayEmail
		if g.RealEmail {
			p.Email = m.Email
		}
	}
	if slices.Contains(d.Scopes, glasshouse.ScopePhone) {
		p.Phone = m.Phone
	}
	if slices.Contains(d.Scopes, glasshouse.ScopeMessagesRead) {
		p.Conversations = slices.Clone(g.Conversations)
	}
	return p
}

// FriendProfile is what GET /me/friends may show of one friend besides the
// id under which the partner knows them. It has no field for a friend's
// email or phone: no scope reaches those.
type FriendProfile struct {
	Name    string
	Picture string
}

// Friend reports whether GET /me/friends may list f, a friend of the member
// whose own grant to the partner is fg (nil if none), and what it may show
// of f. It may list f only if Decide allows in, a ListFriends request, and
// fg is live and includes the friends scope: a friend is listed only by
// their own consent. It shows f's display name and picture only if both
// the member's effective permission and f's own grant include profile and
// f's visibility for the field is friends.
func Friend(in Input, f *glasshouse.Member, fg *glasshouse.Grant) (FriendProfile, bool) {
	if !Decide(in).Allow || in.Request.Kind != ListFriends || f == nil || f.ID == in.Token.MemberID ||
		!consents(in, fg, f.ID, glasshouse.ScopeFriends) {
		return FriendProfile{}, false
	}
	var fp FriendProfile
	if slices.Contains(Effective(in), glasshouse.ScopeProfile) && slices.Contains(fg.Scopes, glasshouse.ScopeProfile) {
		fp.Name = visible(f.DisplayName, f.Visibility.DisplayName)
		fp.Picture = visible(f.PictureURL, f.Visibility.PictureURL)
	}
	return fp, true
}

// MessageView is what GET /me/conversations/{id}/messages may show of one
// message. IDs are internal: the caller turns them into the ids the partner
// knows.
type MessageView struct {
	ID       int64
	SenderID int64
	Text     string
	SentAt   time.Time
}

// Message reports whether GET /me/conversations/{id}/messages may show msg,
// whose sender's own grant to the partner is senderGrant (nil if none or
// if the sender is the member), and what it may show. It may show msg only
// if Decide allows in, a ReadMessages request, msg is in the requested
// conversation, and msg was sent by the member, or by someone whose own live
// grant to the partner includes messages.read and picked the same
// conversation: another member's words are read only with their consent.
func Message(in Input, msg *glasshouse.Message, senderGrant *glasshouse.Grant) (MessageView, bool) {
	if !Decide(in).Allow || in.Request.Kind != ReadMessages || msg == nil || msg.ConversationID != in.Request.ConversationID {
		return MessageView{}, false
	}
	if msg.SenderID != in.Token.MemberID {
		if !consents(in, senderGrant, msg.SenderID, glasshouse.ScopeMessagesRead) ||
			!slices.Contains(senderGrant.Conversations, msg.ConversationID) {
			return MessageView{}, false
		}
	}
	return MessageView{ID: msg.ID, SenderID: msg.SenderID, Text: msg.Text, SentAt: msg.CreatedAt}, true
}

// consents reports whether g is memberID's live grant to in's partner and
// includes scope.
func consents(in Input, g *glasshouse.Grant, memberID int64, scope string) bool {
	return g != nil && g.MemberID == memberID && g.PartnerID == in.Partner.ID && g.Live(in.Now) && slices.Contains(g.Scopes, scope)
}

// visible returns value if its visibility lets friends see it, else "".
func visible(value string, v glasshouse.Visibility) string {
	if v == glasshouse.VisibleToFriends {
		return value
	}
	return ""
}
