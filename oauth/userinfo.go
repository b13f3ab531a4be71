package oauth

import (
	"slices"

	"github.com/glasshouse/glasshouse"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Claims returns the OpenID claims that a's partner may see of member m:
// the pairwise sub always; with profile, the name and picture unless the
// member keeps them to themselves (visibility "me"); with email, the relay
// address, or the real one if the member chose it at consent; with phone,
// the number. Never the handle, which would link the member across
// partners.
func Claims(a *Access, m *glasshouse.Member) oidc.UserInfo {
	info := oidc.UserInfo{Subject: a.Token.Subject}
	has := func(scope string) bool { return slices.Contains(a.Token.Scopes, scope) }
	if has(glasshouse.ScopeProfile) {
		if m.Visibility.DisplayName != glasshouse.VisibleToMe {
			info.Name = m.DisplayName
		}
		if m.Visibility.PictureURL != glasshouse.VisibleToMe {
			info.Picture = m.PictureURL
		}
	}
	if has(glasshouse.ScopeEmail) {
		if a.Grant.RealEmail {
			info.Email = m.Email
		} else {
			info.Email = a.Grant.RelayEmail
		}
	}
	if has(glasshouse.ScopePhone) {
		info.PhoneNumber = m.Phone
	}
	return info
}
