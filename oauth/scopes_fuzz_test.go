package oauth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// FuzzScopes reads arbitrary scope parameters of an authorization request
// (split as the OIDC library splits them) and arbitrary consent forms,
// for partners with arbitrary agreements. Run it longer with
//
//	go test -run='^$' -fuzz='^FuzzScopes$' -fuzztime=5m ./oauth
//
// Properties: what an authorization request keeps (narrow) is exactly the
// protocol scopes and grantable data scopes it asked for, each once, in
// the order asked, and nothing else (no empty or unknown scope); what the
// consent page offers is only grantable data scopes, each once; what a
// consent form ticks is only what was offered.
func FuzzScopes(f *testing.F) {
	for _, s := range []string{"openid profile", "openid  profile", " openid", "openid profile profile", "openid messages.read",
		"OPENID Profile", "openid\tprofile", "openid offline_access friends email phone messages.send", "", "openid unknown"} {
		f.Add(s, "profile\nfriends", uint8(0xff), false)
	}
	f.Add("openid messages.read", "messages.read", uint8(0xff), true)
	f.Add("openid profile", "profile\nprofile\nemail", uint8(1), false)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, param, form string, agreementMask uint8, assessed bool) {
		var a glasshouse.Agreement
		for i, s := range glasshouse.DataScopes {
			if agreementMask&(1<<i) != 0 {
				a.Scopes = append(a.Scopes, s)
			}
		}
		if assessed {
			a.SecurityAssessedAt = now.Add(-24 * time.Hour)
		}
		allowed := grantable(glasshouse.DataScopes, &a, now)
		var asked oidc.SpaceDelimitedArray
		asked.UnmarshalText([]byte(param))

		kept := narrow(asked, allowed)
		last := -1
		for i, s := range kept {
			if slices.Contains(kept[:i], s) {
				t.Fatalf("narrow(%q) = %q: %q twice", param, kept, s)
			}
			first := slices.Index(asked, s)
			if first <= last {
				t.Fatalf("narrow(%q) = %q: not in the order asked", param, kept)
			}
			last = first
		}
		for _, s := range asked {
			if (isProtocolScope(s) || slices.Contains(allowed, s)) && !slices.Contains(kept, s) {
				t.Fatalf("narrow(%q, %v) = %q: dropped %q", param, allowed, kept, s)
			}
		}
		for _, s := range kept {
			if s == "" || (!isProtocolScope(s) && !slices.Contains(a.Scopes, s)) {
				t.Fatalf("narrow(%q) kept %q, outside the agreement %v", param, s, a.Scopes)
			}
			if s == glasshouse.ScopeMessagesRead && !assessed {
				t.Fatalf("narrow(%q) kept messages.read without a security assessment", param)
			}
		}
		offered := intersect(dataScopes(kept), allowed)
		for i, s := range offered {
			if !slices.Contains(allowed, s) || slices.Contains(offered[:i], s) || isProtocolScope(s) {
				t.Fatalf("offered %q: %q is not a grantable data scope, once", offered, s)
			}
		}
		ticked := intersect(offered, strings.Split(form, "\n"))
		for _, s := range ticked {
			if !slices.Contains(offered, s) {
				t.Fatalf("form %q ticked %q, which was not offered (%q)", form, s, offered)
			}
		}
	})
}
