// Package pagetest is an HTTP client for glasshouse's server-rendered pages
// in tests: a browser without JavaScript.
//
// A Client has its own cookie jar and does not follow redirects, so that
// each answer can be checked. Post sends a form with the CSRF token the
// client took from a page; PostRaw and Do send a form as it is.
//
// Every answer is a Page, with assertions that fail the test: MustStatus,
// MustRedirect, MustContain and MustNotContain on the text, MustFieldError
// for the error shown next to a field, MustFormError for the error above
// the forms. Every HTML page the client receives is checked for what the
// product promises on each page: the Content-Security-Policy header
// (ui.ContentSecurityPolicy), and no inline script or style that it would
// block; redirects included (ui.Redirect sends the headers).
//
//	c := pagetest.New(t, srv.URL, "/signin")
//	c.Post("/signin", url.Values{"handle": {"alice"}}).MustRedirect("/friends")
//	c.Get("/friends").MustStatus(http.StatusOK).MustContain("Friends")
package pagetest
