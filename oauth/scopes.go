package oauth

import (
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
)

// isProtocolScope reports whether s is a protocol scope (openid,
// offline_access), which reaches no member data.
func isProtocolScope(s string) bool {
	return s == glasshouse.ScopeOpenID || s == glasshouse.ScopeOffline
}

// assessmentCurrent reports whether a has a security assessment at most
// MaxAssessmentAge old at now, as messages.read requires.
func assessmentCurrent(a *glasshouse.Agreement, now time.Time) bool {
	return !a.SecurityAssessedAt.IsZero() && !a.SecurityAssessedAt.After(now) &&
		now.Sub(a.SecurityAssessedAt) <= glasshouse.MaxAssessmentAge
}

// grantable returns the data scopes a partner may be granted at now, in
// DataScopes order: the platform ceiling ∩ the agreement, and messages.read
// only under a current security assessment.
func grantable(ceiling []string, a *glasshouse.Agreement, now time.Time) []string {
	var out []string
	for _, s := range glasshouse.DataScopes {
		if !slices.Contains(ceiling, s) || !slices.Contains(a.Scopes, s) {
			continue
		}
		if s == glasshouse.ScopeMessagesRead && !assessmentCurrent(a, now) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// narrow returns the scopes of scopes that are protocol scopes or in
// allowed, in their order, once each.
func narrow(scopes, allowed []string) []string {
	out := []string{}
	for _, s := range scopes {
		if (isProtocolScope(s) || slices.Contains(allowed, s)) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// dataScopes returns the data scopes of scopes.
func dataScopes(scopes []string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), isProtocolScope)
}

// intersect returns the elements of a that are in b, in a's order.
func intersect(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(s string) bool { return !slices.Contains(b, s) })
}
