package policy_test

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/policy"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	day       = 24 * time.Hour
	memberID  = 1
	friendID  = 2
	partnerID = 10
	pickedID  = 7 // the conversation the member picked
)

// MustInput returns an input that allows a request of kind: every scope
// everywhere, everything live, conversation 7 picked, friend 2 granted.
func MustInput(tb testing.TB, kind policy.Kind) policy.Input {
	tb.Helper()
	all := glasshouse.DataScopes
	in := policy.Input{
		Ceiling: slices.Clone(all),
		Partner: &glasshouse.Partner{ID: partnerID, ClientID: "streamflix", Name: "Streamflix", Status: glasshouse.PartnerApproved},
		Agreement: &glasshouse.Agreement{PartnerID: partnerID, Version: 2, Scopes: slices.Clone(all),
			ExpiresAt: now.Add(365 * day), SecurityAssessedAt: now.Add(-30 * day), ApprovedAt: now.Add(-10 * day)},
		Grant: &glasshouse.Grant{MemberID: memberID, PartnerID: partnerID, AgreementVersion: 2, Scopes: slices.Clone(all),
			Conversations: []int64{pickedID}, RelayEmail: "r4nd0m@relay.example", RelayEnabled: true, ExpiresAt: now.Add(90 * day)},
		Token: &glasshouse.Token{Kind: glasshouse.AccessToken, PartnerID: partnerID, MemberID: memberID,
			Scopes: append([]string{glasshouse.ScopeOpenID}, all...), ExpiresAt: now.Add(15 * time.Minute)},
		Request:   policy.Request{Kind: kind, ConversationID: pickedID, RecipientID: friendID},
		Recipient: &glasshouse.Grant{MemberID: friendID, PartnerID: partnerID, Scopes: []string{glasshouse.ScopeFriends}, ExpiresAt: now.Add(day)},
		Now:       now,
	}
	if d := policy.Decide(in); !d.Allow {
		tb.Fatalf("base input for %s denied: %s", kind, d.Reason)
	}
	return in
}

func without(scopes []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(x string) bool { return x == s })
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    policy.Kind
		mutate  func(in *policy.Input)
		reason  string // "" means allowed
		message string // a part of the message
		scopes  []string
	}{
		{name: "profile allowed", kind: policy.ReadProfile, scopes: []string{"profile", "email", "phone", "messages.read"}},
		{name: "profile allowed with email only", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant.Scopes = []string{"email"} }, scopes: []string{"email"}},
		{name: "friends allowed", kind: policy.ListFriends, scopes: []string{"friends"}},
		{name: "send allowed", kind: policy.SendMessage, scopes: []string{"messages.send"}},
		{name: "read allowed", kind: policy.ReadMessages, scopes: []string{"messages.read"}},
		{name: "read allowed with an assessment exactly 12 months old", kind: policy.ReadMessages,
			mutate: func(in *policy.Input) { in.Agreement.SecurityAssessedAt = now.Add(-glasshouse.MaxAssessmentAge) }},
		{name: "a grant to an older agreement version still allows the scopes in both", kind: policy.ListFriends,
			mutate: func(in *policy.Input) { in.Grant.AgreementVersion = 1 }},

		{name: "unknown kind", kind: "inbox", reason: policy.ReasonUnknownRequest},
		{name: "delete is not a kind", kind: "messages.delete", reason: policy.ReasonUnknownRequest},

		{name: "no token", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Token = nil }, reason: policy.ReasonInvalidToken},
		{name: "expired token", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Token.ExpiresAt = now }, reason: policy.ReasonInvalidToken},
		{name: "revoked token", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Token.RevokedAt = now.Add(-time.Second) }, reason: policy.ReasonInvalidToken},
		{name: "refresh token", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Token.Kind = glasshouse.RefreshToken }, reason: policy.ReasonInvalidToken},
		{name: "token of another partner", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Token.PartnerID = 11 }, reason: policy.ReasonInvalidToken},
		{name: "no partner", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Partner = nil }, reason: policy.ReasonInvalidToken},

		{name: "suspended partner", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Partner.Status = glasshouse.PartnerSuspended }, reason: policy.ReasonAgreementSuspended},
		{name: "pending partner", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Partner.Status = glasshouse.PartnerPending }, reason: policy.ReasonAgreementNotApproved},
		{name: "unknown partner status", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Partner.Status = "" }, reason: policy.ReasonAgreementNotApproved},
		{name: "no agreement", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Agreement = nil }, reason: policy.ReasonAgreementNotApproved},
		{name: "unapproved agreement", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Agreement.ApprovedAt = time.Time{} }, reason: policy.ReasonAgreementNotApproved},
		{name: "agreement of another partner", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Agreement.PartnerID = 11 }, reason: policy.ReasonAgreementNotApproved},
		{name: "expired agreement", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Agreement.ExpiresAt = now }, reason: policy.ReasonAgreementExpired, message: "expired on 2026-03-01"},

		{name: "no grant", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant = nil }, reason: policy.ReasonConsentRequired},
		{name: "expired grant", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant.ExpiresAt = now }, reason: policy.ReasonConsentRequired, message: "expired"},
		{name: "grant of another member", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant.MemberID = friendID }, reason: policy.ReasonConsentRequired},
		{name: "grant to another partner", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant.PartnerID = 11 }, reason: policy.ReasonConsentRequired},

		{name: "scope above the ceiling", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Ceiling = without(in.Ceiling, "friends") },
			reason: policy.ReasonInsufficientScope, message: "platform does not allow", scopes: []string{"friends"}},
		{name: "scope outside the agreement", kind: policy.ListFriends, mutate: func(in *policy.Input) { in.Agreement.Scopes = without(in.Agreement.Scopes, "friends") },
			reason: policy.ReasonInsufficientScope, message: "agreement does not include"},
		{name: "scope unticked", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Grant.Scopes = without(in.Grant.Scopes, "messages.send") },
			reason: policy.ReasonInsufficientScope, message: "member did not grant"},
		{name: "scope not in the token", kind: policy.ReadMessages, mutate: func(in *policy.Input) { in.Token.Scopes = without(in.Token.Scopes, "messages.read") },
			reason: policy.ReasonInsufficientScope, message: "token does not carry"},
		{name: "profile request with friends only", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Grant.Scopes = []string{"friends", "messages.send"} },
			reason: policy.ReasonInsufficientScope, message: "one of the scopes profile, email, phone, messages.read"},
		{name: "protocol scopes reach nothing", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Token.Scopes = []string{"openid", "offline_access"} },
			reason: policy.ReasonInsufficientScope, scopes: []string{"profile"}},
		// A denial is recorded under what the request asked for: GET /me by a
		// partner holding messages.send only is a refused profile read, not
		// an attempt at messages.read.
		{name: "profile request by a send-only partner counts as profile", kind: policy.ReadProfile,
			mutate: func(in *policy.Input) {
				in.Grant.Scopes, in.Token.Scopes = []string{"messages.send"}, []string{"openid", "messages.send"}
			},
			reason: policy.ReasonInsufficientScope, scopes: []string{"profile"}},
		{name: "profile request by an email-only partner under suspension counts as email", kind: policy.ReadProfile,
			mutate: func(in *policy.Input) {
				in.Token.Scopes, in.Partner.Status = []string{"openid", "email"}, glasshouse.PartnerSuspended
			},
			reason: policy.ReasonAgreementSuspended, scopes: []string{"email"}},
		{name: "invalid token counts under the request's own scope", kind: policy.ReadProfile, mutate: func(in *policy.Input) { in.Token = nil },
			reason: policy.ReasonInvalidToken, scopes: []string{"profile"}},

		{name: "read without assessment", kind: policy.ReadMessages, mutate: func(in *policy.Input) { in.Agreement.SecurityAssessedAt = time.Time{} }, reason: policy.ReasonAssessmentRequired},
		{name: "read with a stale assessment", kind: policy.ReadMessages,
			mutate: func(in *policy.Input) {
				in.Agreement.SecurityAssessedAt = now.Add(-glasshouse.MaxAssessmentAge - time.Second)
			}, reason: policy.ReasonAssessmentRequired},
		{name: "profile with messages.read only and a stale assessment", kind: policy.ReadProfile,
			mutate: func(in *policy.Input) {
				in.Grant.Scopes, in.Token.Scopes = []string{"messages.read"}, []string{"messages.read"}
				in.Agreement.SecurityAssessedAt = now.Add(-400 * day)
			}, reason: policy.ReasonAssessmentRequired, scopes: []string{"messages.read"}},
		{name: "profile drops messages.read under a stale assessment", kind: policy.ReadProfile,
			mutate: func(in *policy.Input) { in.Agreement.SecurityAssessedAt = time.Time{} }, scopes: []string{"profile", "email", "phone"}},

		{name: "conversation not picked", kind: policy.ReadMessages, mutate: func(in *policy.Input) { in.Request.ConversationID = 8 }, reason: policy.ReasonConversationNotGranted},
		{name: "conversation unknown to the partner", kind: policy.ReadMessages, mutate: func(in *policy.Input) { in.Request.ConversationID = 0 }, reason: policy.ReasonConversationNotGranted},
		{name: "no conversation picked", kind: policy.ReadMessages, mutate: func(in *policy.Input) { in.Grant.Conversations = nil }, reason: policy.ReasonConversationNotGranted},

		{name: "recipient without grant", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Recipient = nil }, reason: policy.ReasonRecipientNotGranted},
		{name: "recipient with an expired grant", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Recipient.ExpiresAt = now }, reason: policy.ReasonRecipientNotGranted},
		{name: "recipient granted another partner", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Recipient.PartnerID = 11 }, reason: policy.ReasonRecipientNotGranted},
		{name: "recipient grant of someone else", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Recipient.MemberID = 3 }, reason: policy.ReasonRecipientNotGranted},
		{name: "recipient unknown to the partner", kind: policy.SendMessage, mutate: func(in *policy.Input) { in.Request.RecipientID = 0 }, reason: policy.ReasonRecipientNotGranted},
		{name: "recipient is the member", kind: policy.SendMessage,
			mutate: func(in *policy.Input) { in.Request.RecipientID, in.Recipient = memberID, in.Grant }, reason: policy.ReasonRecipientNotGranted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := MustInput(t, policy.ReadProfile)
			in.Request.Kind = tc.kind
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			d := policy.Decide(in)
			if d.Allow != (tc.reason == "") || d.Reason != tc.reason {
				t.Fatalf("Decide = allow %v, reason %q (%s); want reason %q", d.Allow, d.Reason, d.Message, tc.reason)
			}
			if !d.Allow && d.Message == "" {
				t.Errorf("denial without a message")
			}
			if !strings.Contains(d.Message, tc.message) {
				t.Errorf("message %q does not contain %q", d.Message, tc.message)
			}
			if tc.scopes != nil && !slices.Equal(d.Scopes, tc.scopes) {
				t.Errorf("scopes %q, want %q", d.Scopes, tc.scopes)
			}
		})
	}
}

func TestMe(t *testing.T) {
	member := &glasshouse.Member{ID: memberID, Handle: "alice", DisplayName: "Alice", Email: "alice@example.org",
		Phone: "+44 20 7946 0000", PictureURL: "https://example.org/a.png", Visibility: glasshouse.DefaultVisibility}
	for _, tc := range []struct {
		name   string
		mutate func(in *policy.Input, m *glasshouse.Member)
		want   policy.Profile
	}{
		{name: "everything granted", want: policy.Profile{Name: "Alice", Picture: "https://example.org/a.png",
			Email: "r4nd0m@relay.example", Phone: "+44 20 7946 0000", Conversations: []int64{pickedID}}},
		{name: "name visible to the member alone", mutate: func(in *policy.Input, m *glasshouse.Member) {
			m.Visibility.DisplayName = glasshouse.VisibleToMe
			in.Grant.Scopes = []string{"profile"}
		}, want: policy.Profile{Picture: "https://example.org/a.png"}},
		{name: "real email only when chosen", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Grant.RealEmail = true
			in.Grant.Scopes = []string{"email"}
		}, want: policy.Profile{Email: "alice@example.org"}},
		{name: "no address once the relay is cut off", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Grant.RelayEnabled = false
			in.Grant.Scopes = []string{"email"}
		}, want: policy.Profile{}},
		{name: "not even the real one once the relay is cut off", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Grant.RelayEnabled, in.Grant.RealEmail = false, true
			in.Grant.Scopes = []string{"email", "phone"}
		}, want: policy.Profile{Phone: "+44 20 7946 0000"}},
		{name: "phone only with the phone scope", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Token.Scopes = []string{"profile", "email"}
		}, want: policy.Profile{Name: "Alice", Picture: "https://example.org/a.png", Email: "r4nd0m@relay.example"}},
		{name: "conversations only under a current assessment", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Agreement.SecurityAssessedAt = now.Add(-2 * glasshouse.MaxAssessmentAge)
			in.Grant.Scopes = []string{"phone", "messages.read"}
		}, want: policy.Profile{Phone: "+44 20 7946 0000"}},
		{name: "nothing when denied", mutate: func(in *policy.Input, m *glasshouse.Member) {
			in.Partner.Status = glasshouse.PartnerSuspended
		}, want: policy.Profile{}},
		{name: "nothing for another member", mutate: func(in *policy.Input, m *glasshouse.Member) { m.ID = friendID }, want: policy.Profile{}},
		{name: "nothing for another kind of request", mutate: func(in *policy.Input, m *glasshouse.Member) { in.Request.Kind = policy.ListFriends }, want: policy.Profile{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, m := MustInput(t, policy.ReadProfile), *member
			if tc.mutate != nil {
				tc.mutate(&in, &m)
			}
			got := policy.Me(in, &m)
			if got.Name != tc.want.Name || got.Picture != tc.want.Picture || got.Email != tc.want.Email ||
				got.Phone != tc.want.Phone || !slices.Equal(got.Conversations, tc.want.Conversations) {
				t.Errorf("Me = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFriend(t *testing.T) {
	friend := &glasshouse.Member{ID: friendID, Handle: "bob", DisplayName: "Bob", Email: "bob@example.org",
		Phone: "+1 555 0100", PictureURL: "https://example.org/b.png", Visibility: glasshouse.DefaultVisibility}
	grant := &glasshouse.Grant{MemberID: friendID, PartnerID: partnerID, Scopes: []string{"friends", "profile"}, ExpiresAt: now.Add(day)}
	for _, tc := range []struct {
		name   string
		mutate func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant
		listed bool
		want   policy.FriendProfile
	}{
		{name: "friend granted friends and profile", listed: true, want: policy.FriendProfile{Name: "Bob", Picture: "https://example.org/b.png"}},
		{name: "friend granted friends only", listed: true, mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			g.Scopes = []string{"friends"}
			return g
		}},
		{name: "member lacks profile", listed: true, mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			in.Token.Scopes = []string{"friends"}
			return g
		}},
		{name: "friend shows the name to no one", listed: true, want: policy.FriendProfile{Picture: "https://example.org/b.png"},
			mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
				f.Visibility.DisplayName = glasshouse.VisibleToMe
				return g
			}},
		{name: "friend who never granted", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant { return nil }},
		{name: "friend granted the partner without friends", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			g.Scopes = []string{"profile", "messages.send"}
			return g
		}},
		{name: "friend's grant expired", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			g.ExpiresAt = now
			return g
		}},
		{name: "friend granted another partner", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			g.PartnerID = 11
			return g
		}},
		{name: "grant of someone else", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			g.MemberID = 3
			return g
		}},
		{name: "the member is not their own friend", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			f.ID, g.MemberID = memberID, memberID
			return g
		}},
		{name: "request denied", mutate: func(in *policy.Input, f *glasshouse.Member, g *glasshouse.Grant) *glasshouse.Grant {
			in.Grant.Scopes = []string{"profile"}
			return g
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, f, g := MustInput(t, policy.ListFriends), *friend, *grant
			fg := &g
			if tc.mutate != nil {
				fg = tc.mutate(&in, &f, &g)
			}
			got, listed := policy.Friend(in, &f, fg)
			if listed != tc.listed || got != tc.want {
				t.Errorf("Friend = %+v, %v; want %+v, %v", got, listed, tc.want, tc.listed)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	senderGrant := &glasshouse.Grant{MemberID: friendID, PartnerID: partnerID, Scopes: []string{"messages.read"},
		Conversations: []int64{pickedID}, ExpiresAt: now.Add(day)}
	for _, tc := range []struct {
		name   string
		sender int64
		grant  func(g glasshouse.Grant) *glasshouse.Grant
		conv   int64
		mutate func(in *policy.Input)
		shown  bool
	}{
		{name: "own message", sender: memberID, shown: true},
		{name: "friend who picked the conversation too", sender: friendID, grant: func(g glasshouse.Grant) *glasshouse.Grant { return &g }, shown: true},
		{name: "friend who never granted", sender: friendID},
		{name: "friend who picked another conversation", sender: friendID, grant: func(g glasshouse.Grant) *glasshouse.Grant {
			g.Conversations = []int64{8}
			return &g
		}},
		{name: "friend without messages.read", sender: friendID, grant: func(g glasshouse.Grant) *glasshouse.Grant {
			g.Scopes = []string{"friends"}
			return &g
		}},
		{name: "friend whose grant expired", sender: friendID, grant: func(g glasshouse.Grant) *glasshouse.Grant {
			g.ExpiresAt = now
			return &g
		}},
		{name: "grant of another sender", sender: 3, grant: func(g glasshouse.Grant) *glasshouse.Grant { return &g }},
		{name: "message of another conversation", sender: memberID, conv: 8},
		{name: "request denied", sender: memberID, mutate: func(in *policy.Input) { in.Request.ConversationID = 8 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := MustInput(t, policy.ReadMessages)
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			var sg *glasshouse.Grant
			if tc.grant != nil {
				sg = tc.grant(*senderGrant)
			}
			conv := cmp.Or(tc.conv, pickedID)
			msg := &glasshouse.Message{ID: 99, ConversationID: conv, Seq: 3, SenderID: tc.sender, SenderHandle: "bob", Text: "hello", CreatedAt: now}
			got, shown := policy.Message(in, msg, sg)
			want := policy.MessageView{}
			if tc.shown {
				want = policy.MessageView{ID: 99, SenderID: tc.sender, Text: "hello", SentAt: now}
			}
			if shown != tc.shown || got != want {
				t.Errorf("Message = %+v, %v; want %+v, %v", got, shown, want, tc.shown)
			}
		})
	}
}
