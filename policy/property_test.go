package policy_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/policy"
	"pgregory.net/rapid"
)

// The generators draw inputs that are mostly valid: each field is right
// nineteen times out of twenty and otherwise any of a few values around the
// boundaries (ids that match or not, times just before, at and after now),
// so that many requests are allowed and each rule is still hit from both
// sides.

var (
	anyScopes  = append([]string{glasshouse.ScopeOpenID, glasshouse.ScopeOffline}, glasshouse.DataScopes...)
	futures    = []time.Duration{time.Second, day, glasshouse.MaxAssessmentAge}
	offsets    = append([]time.Duration{-2 * glasshouse.MaxAssessmentAge, -glasshouse.MaxAssessmentAge - time.Second, -glasshouse.MaxAssessmentAge, -time.Second, 0}, futures...)
	visibility = []glasshouse.Visibility{glasshouse.VisibleToMe, glasshouse.VisibleToFriends}
)

// TestMain runs 2,000 cases per property unless -rapid.checks says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		f.Value.Set("2000")
	}
	os.Exit(m.Run())
}

// draw returns good nineteen times out of twenty, else any of all. (rapid
// favours the smallest and largest values of a range, so the rare case is
// the largest.)
func draw[V any](t *rapid.T, label string, good V, all ...V) V {
	if rapid.IntRange(0, 19).Draw(t, label+" good") < 19 || len(all) == 0 {
		return good
	}
	return rapid.SampledFrom(all).Draw(t, label)
}

// drawScopes draws a set that holds each scope seven times out of eight.
func drawScopes(t *rapid.T, label string) []string {
	var scopes []string
	for _, s := range anyScopes {
		if rapid.IntRange(0, 7).Draw(t, label+" "+s) < 7 {
			scopes = append(scopes, s)
		}
	}
	return scopes
}

// drawFuture draws a time after now, or sometimes any around it.
func drawFuture(t *rapid.T, label string) time.Time {
	return now.Add(draw(t, label, rapid.SampledFrom(futures).Draw(t, label+" future"), offsets...))
}

// drawPast draws zero or a time before now, or sometimes any around it.
func drawPast(t *rapid.T, label string, zero bool) time.Time {
	if zero {
		return time.Time{}
	}
	return now.Add(draw(t, label, -day, offsets...))
}

// drawGrant draws a grant of memberID to the partner, sometimes nil or
// someone else's or to another partner.
func drawGrant(t *rapid.T, label string, id int64) *glasshouse.Grant {
	if draw(t, label+" nil", false, true) {
		return nil
	}
	id = draw(t, label+" member", id, memberID, friendID, 3)
	return &glasshouse.Grant{
		MemberID:      id,
		PartnerID:     draw(t, label+" partner", int64(partnerID), 11),
		Scopes:        drawScopes(t, label+" scopes"),
		Conversations: rapid.SliceOfDistinct(rapid.SampledFrom([]int64{7, 8}), func(c int64) int64 { return c }).Draw(t, label+" conversations"),
		RealEmail:     rapid.Bool().Draw(t, label+" real email"),
		RelayEmail:    fmt.Sprintf("relay-%d@relay.example", id),
		RelayEnabled:  rapid.Bool().Draw(t, label+" relay enabled"),
		ExpiresAt:     drawFuture(t, label+" expires"),
	}
}

// drawMember draws member id with sentinel values in every field and a
// random visibility for each.
func drawMember(t *rapid.T, label string, id int64) *glasshouse.Member {
	return &glasshouse.Member{
		ID: id, Handle: fmt.Sprintf("handle%d", id), DisplayName: fmt.Sprintf("name-%d", id),
		Email: fmt.Sprintf("email-%d@example.org", id), Phone: fmt.Sprintf("+1 555 %d", id), PictureURL: fmt.Sprintf("https://example.org/%d.png", id),
		Visibility: glasshouse.Fields{
			DisplayName: rapid.SampledFrom(visibility).Draw(t, label+" name visibility"),
			Email:       rapid.SampledFrom(visibility).Draw(t, label+" email visibility"),
			Phone:       rapid.SampledFrom(visibility).Draw(t, label+" phone visibility"),
			PictureURL:  rapid.SampledFrom(visibility).Draw(t, label+" picture visibility"),
		},
	}
}

func drawInput(t *rapid.T) policy.Input {
	in := policy.Input{
		Ceiling: drawScopes(t, "ceiling"),
		Partner: &glasshouse.Partner{ID: partnerID,
			Status: draw(t, "partner status", glasshouse.PartnerApproved, glasshouse.PartnerSuspended, glasshouse.PartnerPending)},
		Request: policy.Request{
			Kind:           rapid.SampledFrom([]policy.Kind{policy.ReadProfile, policy.ListFriends, policy.SendMessage, policy.ReadMessages, "inbox"}).Draw(t, "kind"),
			ConversationID: draw(t, "conversation", int64(7), 0, 8),
			RecipientID:    draw(t, "recipient", int64(friendID), 0, memberID, 3),
		},
		Now: now,
	}
	if !draw(t, "agreement nil", false, true) {
		in.Agreement = &glasshouse.Agreement{
			PartnerID:          draw(t, "agreement partner", int64(partnerID), 11),
			Scopes:             drawScopes(t, "agreement scopes"),
			ExpiresAt:          drawFuture(t, "agreement expires"),
			SecurityAssessedAt: drawPast(t, "assessed", draw(t, "assessed zero", false, true)),
			ApprovedAt:         drawPast(t, "approved", draw(t, "approved zero", false, true)),
		}
	}
	if !draw(t, "token nil", false, true) {
		in.Token = &glasshouse.Token{
			Kind:      draw(t, "token kind", glasshouse.AccessToken, glasshouse.RefreshToken),
			PartnerID: draw(t, "token partner", int64(partnerID), 11),
			MemberID:  draw(t, "token member", int64(memberID), friendID),
			Scopes:    drawScopes(t, "token scopes"),
			ExpiresAt: drawFuture(t, "token expires"),
			RevokedAt: drawPast(t, "token revoked", draw(t, "token unrevoked", true, false)),
		}
	}
	in.Grant = drawGrant(t, "grant", memberID)
	in.Recipient = drawGrant(t, "recipient grant", friendID)
	return in
}

// inAll reports whether scope is in the ceiling, the agreement, the grant
// and the token of in.
func inAll(in policy.Input, scope string) bool {
	return in.Agreement != nil && in.Grant != nil && in.Token != nil &&
		slices.Contains(in.Ceiling, scope) && slices.Contains(in.Agreement.Scopes, scope) &&
		slices.Contains(in.Grant.Scopes, scope) && slices.Contains(in.Token.Scopes, scope)
}

// liveGrantOf reports whether g is memberID's live grant to the partner
// with scope.
func liveGrantOf(in policy.Input, g *glasshouse.Grant, memberID int64, scope string) bool {
	return g != nil && g.MemberID == memberID && g.PartnerID == in.Partner.ID && g.Live(now) && slices.Contains(g.Scopes, scope)
}

func assessed(in policy.Input) bool {
	at := in.Agreement.SecurityAssessedAt
	return !at.IsZero() && now.Sub(at) <= glasshouse.MaxAssessmentAge
}

// TestDecideProperty: whatever the inputs, an allowed request has a needed
// scope in every one of the sets, and every other rule holds.
func TestDecideProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := drawInput(t)
		d := policy.Decide(in)
		if !d.Allow {
			if d.Reason == "" || d.Message == "" {
				t.Fatalf("denial without reason or message: %+v", d)
			}
			// A denial is recorded under what the request asked for: never
			// messages.read unless it read messages or its token carried
			// messages.read ("did the partner try to read messages?").
			if len(d.Scopes) == 0 && policy.Needed(in.Request.Kind) != nil {
				t.Fatalf("denial of %s without a scope", in.Request.Kind)
			}
			for _, s := range d.Scopes {
				if !slices.Contains(policy.Needed(in.Request.Kind), s) {
					t.Fatalf("denial of %s under %s, which it does not need", in.Request.Kind, s)
				}
				if s == glasshouse.ScopeMessagesRead && in.Request.Kind != policy.ReadMessages && (in.Token == nil || !slices.Contains(in.Token.Scopes, s)) {
					t.Fatalf("denial of %s with token scopes %q counted as messages.read", in.Request.Kind, in.Token.Scopes)
				}
			}
			return
		}
		if len(d.Scopes) == 0 {
			t.Fatalf("allowed with no scope")
		}
		for _, s := range d.Scopes {
			if !slices.Contains(policy.Needed(in.Request.Kind), s) || !inAll(in, s) {
				t.Fatalf("allowed %s with scope %s outside ceiling %q ∩ agreement %q ∩ grant %q ∩ token %q",
					in.Request.Kind, s, in.Ceiling, in.Agreement.Scopes, in.Grant.Scopes, in.Token.Scopes)
			}
		}
		tok, a, g := in.Token, in.Agreement, in.Grant
		switch {
		case tok.Kind != glasshouse.AccessToken || !tok.Valid(now) || tok.PartnerID != partnerID:
			t.Fatalf("allowed with token %+v", tok)
		case in.Partner.Status != glasshouse.PartnerApproved:
			t.Fatalf("allowed a %s partner", in.Partner.Status)
		case a.PartnerID != partnerID || a.ApprovedAt.IsZero() || !now.Before(a.ExpiresAt):
			t.Fatalf("allowed under agreement %+v", a)
		case g.MemberID != tok.MemberID || g.PartnerID != partnerID || !g.Live(now):
			t.Fatalf("allowed under grant %+v", g)
		}
		switch in.Request.Kind {
		case policy.ReadMessages:
			if !assessed(in) || !slices.Contains(g.Conversations, in.Request.ConversationID) {
				t.Fatalf("allowed reading conversation %d (picked %v, assessed %v)", in.Request.ConversationID, g.Conversations, a.SecurityAssessedAt)
			}
		case policy.SendMessage:
			r := in.Recipient
			if r == nil || r.MemberID != in.Request.RecipientID || r.MemberID == tok.MemberID || r.PartnerID != partnerID || !r.Live(now) {
				t.Fatalf("allowed sending to %d with recipient grant %+v", in.Request.RecipientID, r)
			}
		case policy.ReadProfile, policy.ListFriends:
		default:
			t.Fatalf("allowed unknown kind %q", in.Request.Kind)
		}
	})
}

// TestViewProperty: whatever the inputs, what Me, Friend and Message let
// through lies inside ceiling ∩ agreement ∩ grant ∩ token ∩ the other
// member's own grant, and no friend's email, phone or handle ever appears.
func TestViewProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := drawInput(t)
		member := drawMember(t, "member", memberID)
		if in.Token != nil {
			member.ID = in.Token.MemberID
		}
		friend := drawMember(t, "friend", 3)
		friendGrant := drawGrant(t, "friend grant", 3)

		p := policy.Me(in, member)
		g := in.Grant
		if p.Name != "" && (!inAll(in, "profile") || member.Visibility.DisplayName != glasshouse.VisibleToFriends || p.Name != member.DisplayName) {
			t.Fatalf("me shows name %q", p.Name)
		}
		if p.Picture != "" && (!inAll(in, "profile") || member.Visibility.PictureURL != glasshouse.VisibleToFriends || p.Picture != member.PictureURL) {
			t.Fatalf("me shows picture %q", p.Picture)
		}
		if p.Email != "" && (!inAll(in, "email") || !g.RelayEnabled ||
			!(p.Email == g.RelayEmail && !g.RealEmail || p.Email == member.Email && g.RealEmail)) {
			t.Fatalf("me shows email %q (real %v, relay %v)", p.Email, g.RealEmail, g.RelayEnabled)
		}
		if p.Phone != "" && (!inAll(in, "phone") || p.Phone != member.Phone) {
			t.Fatalf("me shows phone %q", p.Phone)
		}
		for _, c := range p.Conversations {
			if !inAll(in, "messages.read") || !assessed(in) || !slices.Contains(g.Conversations, c) {
				t.Fatalf("me shows conversation %d", c)
			}
		}

		fp, listed := policy.Friend(in, friend, friendGrant)
		if listed && (!inAll(in, "friends") || !liveGrantOf(in, friendGrant, friend.ID, "friends")) {
			t.Fatalf("friend listed without consent: grant %+v", friendGrant)
		}
		if !listed && fp != (policy.FriendProfile{}) {
			t.Fatalf("unlisted friend shows %+v", fp)
		}
		if fp.Name != "" && (!inAll(in, "profile") || !slices.Contains(friendGrant.Scopes, "profile") || friend.Visibility.DisplayName != glasshouse.VisibleToFriends) {
			t.Fatalf("friend shows name %q", fp.Name)
		}
		if fp.Picture != "" && (!inAll(in, "profile") || !slices.Contains(friendGrant.Scopes, "profile") || friend.Visibility.PictureURL != glasshouse.VisibleToFriends) {
			t.Fatalf("friend shows picture %q", fp.Picture)
		}
		for _, secret := range []string{friend.Email, friend.Phone, friend.Handle} {
			if strings.Contains(fmt.Sprintf("%+v", fp), secret) {
				t.Fatalf("friend view %+v carries %q", fp, secret)
			}
		}

		sender := rapid.SampledFrom([]int64{member.ID, 3}).Draw(t, "sender")
		senderGrant := drawGrant(t, "sender grant", 3)
		msg := &glasshouse.Message{ID: 99, ConversationID: rapid.SampledFrom([]int64{7, 8}).Draw(t, "message conversation"),
			SenderID: sender, SenderHandle: "handle3", Text: "words", CreatedAt: now}
		mv, shown := policy.Message(in, msg, senderGrant)
		if shown {
			c := in.Request.ConversationID
			if !inAll(in, "messages.read") || !assessed(in) || msg.ConversationID != c || !slices.Contains(g.Conversations, c) {
				t.Fatalf("message shown outside the member's picked conversations")
			}
			if sender != in.Token.MemberID && (!liveGrantOf(in, senderGrant, sender, "messages.read") || !slices.Contains(senderGrant.Conversations, c)) {
				t.Fatalf("another member's message shown without their consent: grant %+v", senderGrant)
			}
		} else if mv != (policy.MessageView{}) {
			t.Fatalf("hidden message shows %+v", mv)
		}
		if strings.Contains(fmt.Sprintf("%+v", mv), "handle3") {
			t.Fatalf("message view carries the sender's handle")
		}
	})
}
