package oauth

import (
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Claims returns the OpenID claims of the userinfo endpoint: the pairwise
// sub alone. Profile, email and phone reach partners only through the Graph
// API's GET /graph/v1/me, where the policy decides and every access is
// recorded in the transparency log: the userinfo endpoint would otherwise be
// a second, unrecorded path to the same data: partners reach member data
// through one public API.
func Claims(a *Access) oidc.UserInfo {
	return oidc.UserInfo{Subject: a.Token.Subject}
}
