// Package ui is the groundwork every server-rendered page of glasshouse
// shares: the layout template, the one stylesheet and the scripts (embedded
// and served under /assets/ with content-hashed URLs), the security headers
// (a Content-Security-Policy without inline script), CSRF tokens for forms
// and the signed-in member of a request (through package signin's Service,
// Config.SignIn, which the member API and the OAuth pages share), the
// error page (Kit.Fail: the status and message package httpio gives an
// error), the one style of dates and times (Date, DateTime;
// static/js/time.js shows them in the reader's time zone), and
// the "not found" page that every path no route matches gets (NotFound;
// the APIs' paths get their JSON error instead).
//
// The pages themselves live in the packages under ui/: messenger (sign-up,
// sign-in, friends, conversations), privacy (the privacy center), portal
// (the partner portal and operator pages). Each parses its page templates
// with Kit.Pages, so that they all render inside the same layout.
//
// A page template defines "title" and "main"; it may define "scripts" for
// its <script src> tags (built with the asset function). It receives a
// *Page: the signed-in member, the CSRF token, field errors, the submitted
// form, a flash message and the page's own Data.
package ui
