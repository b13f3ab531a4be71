package messenger

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/ui"
)

// landing serves GET /: what glasshouse is, for visitors; members go
// straight to their messages.
func (p *Pages) landing(w http.ResponseWriter, r *http.Request) {
	if p.kit.Member(r) != nil {
		ui.Redirect(w, r, "/messages")
		return
	}
	p.render(w, r, "landing", http.StatusOK, &ui.Page{})
}

func (p *Pages) signupForm(w http.ResponseWriter, r *http.Request) {
	if p.kit.Member(r) != nil {
		ui.Redirect(w, r, "/messages")
		return
	}
	p.showSignup(w, r, http.StatusOK, &ui.Page{})
}

func (p *Pages) showSignup(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page) {
	pg.Section = "signup"
	p.render(w, r, "signup", status, pg)
}

// signup creates the member, signs them in and sends them to find friends.
func (p *Pages) signup(w http.ResponseWriter, r *http.Request) {
	in := glasshouse.Signup{
		Handle:      handleInput(r.PostForm.Get("handle")),
		Email:       strings.TrimSpace(r.PostForm.Get("email")),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
		Password:    r.PostForm.Get("new_password"),
	}
	show := func(status int, pg *ui.Page) { p.showSignup(w, r, status, pg) }
	if errs := signupErrors(in); len(errs) > 0 {
		show(http.StatusBadRequest, &ui.Page{Errors: errs, Form: r.PostForm})
		return
	}
	ip := clientip.Of(r)
	if _, err := p.accounts.Signup(r.Context(), in, ip); err != nil {
		field := ""
		if glasshouse.ErrorCode(err) == glasshouse.ECONFLICT {
			field = "email"
			if _, err := p.store.MemberByHandle(r.Context(), in.Handle); err == nil {
				field = "handle"
			}
		}
		p.refuse(w, r, err, field, show)
		return
	}
	token, sess, err := p.kit.SignIn().Login(r.Context(), in.Handle, in.Password, ip)
	if err != nil {
		p.refuse(w, r, err, "", func(status int, pg *ui.Page) { p.showSignin(w, r, status, pg) })
		return
	}
	p.kit.SignIn().SetCookie(w, r, token, sess)
	redirect(w, r, "/friends", "welcome")
}

// signupErrors checks each field of a sign-up on its own, so that every
// mistake shows next to its field at once.
func signupErrors(in glasshouse.Signup) map[string]string {
	errs := map[string]string{}
	check := func(field string, err error) {
		if err != nil {
			errs[field] = glasshouse.ErrorMessage(err)
		}
	}
	check("handle", glasshouse.ValidateHandle(in.Handle))
	check("email", (&glasshouse.ProfileUpdate{Email: &in.Email}).Validate())
	check("display_name", (&glasshouse.ProfileUpdate{DisplayName: &in.DisplayName}).Validate())
	check("new_password", glasshouse.ValidatePassword(in.Password))
	return errs
}

// signinForm serves GET /signin; ?next= is where to go afterwards.
func (p *Pages) signinForm(w http.ResponseWriter, r *http.Request) {
	next := ui.SafeNext(r.URL.Query().Get("next"), "")
	if p.kit.Member(r) != nil {
		ui.Redirect(w, r, ui.SafeNext(next, "/messages"))
		return
	}
	pg := &ui.Page{}
	if next != "" {
		pg.Form = url.Values{"next": {next}}
	}
	p.showSignin(w, r, http.StatusOK, pg)
}

func (p *Pages) showSignin(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page) {
	pg.Section = "signin"
	p.render(w, r, "signin", status, pg)
}

// signin opens a session and goes on to next (on this site only).
func (p *Pages) signin(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	token, sess, err := p.kit.SignIn().Login(r.Context(), handleInput(f.Get("handle")), f.Get("password"), clientip.Of(r))
	if err != nil {
		field := ""
		if glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
			field = "password"
		}
		p.refuse(w, r, err, field, func(status int, pg *ui.Page) { p.showSignin(w, r, status, pg) })
		return
	}
	p.kit.SignIn().SetCookie(w, r, token, sess)
	ui.Redirect(w, r, ui.SafeNext(f.Get("next"), "/messages"))
}

// signout ends the session and its open streams.
func (p *Pages) signout(w http.ResponseWriter, r *http.Request) {
	if err := p.accounts.Logout(w, r); err != nil {
		p.kit.Fail(w, r, err)
		return
	}
	ui.Redirect(w, r, "/")
}
