package oauth

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/clientip"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

//go:embed templates/*.html
var templateFS embed.FS

func parsePages() *template.Template {
	return template.Must(template.ParseFS(templateFS, "templates/*.html"))
}

// maxFormBytes bounds the body of the protocol endpoints' forms (the
// pages' forms are read by signin.Service.ParseForm, with the same bound).
const maxFormBytes = 64 << 10

// page is what the templates show.
type page struct {
	Title      string
	Stylesheet string // the product's stylesheet; empty for none
	Action     string // the form's URL
	CSRF       string
	Partner    string
	Message    string // the error page's text
	Error      string // the login form's error
	Handle     string

	Member        string // the signed-in member, in the header
	Initial       string // the partner's initial, its mark on the consent page
	Purpose       string
	RetentionDays int
	Until         string
	Directory     string // the partner's entry in the public partner directory
	Accesses      string // the partner's accesses so far; empty leaves the line out
	Email         string // the member's real address, beside the email choice
	Scopes        []scopeChoice
	Conversations []conversationChoice

	// formAction is the page's CSP form-action sources; empty for none.
	formAction string
}

// scopeChoice is one tick box: a short title and the plain description.
type scopeChoice struct{ Name, Title, Description string }

// scopeTitles name each data scope in a few words, above its description.
var scopeTitles = map[string]string{
	glasshouse.ScopeProfile:      "Your profile",
	glasshouse.ScopeEmail:        "An email address",
	glasshouse.ScopePhone:        "Your phone number",
	glasshouse.ScopeFriends:      "Your friends who use it too",
	glasshouse.ScopeMessagesSend: "Send messages for you",
	glasshouse.ScopeMessagesRead: "Read conversations you pick",
}

type conversationChoice struct {
	ID    int64
	Label string
}

// flow is one authorization request as the pages see it.
type flow struct {
	req    *glasshouse.AuthRequest
	client *client
}

func (f *flow) url(path string) string { return path + "?id=" + url.QueryEscape(f.req.ID) }

// loadFlow loads the request named by the id query parameter and its
// client, or answers with an error page and returns false.
func (s *Server) loadFlow(w http.ResponseWriter, r *http.Request) (*flow, bool) {
	ctx, now := r.Context(), s.now()
	req, err := s.store.AuthRequest(ctx, r.URL.Query().Get("id"), now)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		s.fail(w, r, glasshouse.Errorf(glasshouse.ENOTFOUND, "This sign-in request has expired or is not valid. Go back to the app and start again."))
		return nil, false
	} else if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	if req.Done {
		s.fail(w, r, errFinished)
		return nil, false
	}
	c, err := s.client(ctx, req.ClientID, now)
	var ae *AccessError
	if errors.As(err, &ae) {
		s.fail(w, r, glasshouse.Errorf(glasshouse.EFORBIDDEN, "%s The app cannot ask for your data now.", ae.Err.Message))
		return nil, false
	} else if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return &flow{req: req, client: c}, true
}

var (
	errSignIn      = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Sign in first.")
	errFinished    = glasshouse.Errorf(glasshouse.ECONFLICT, "This request is already finished. Go back to the app.")
	errFormExpired = glasshouse.Errorf(glasshouse.EFORBIDDEN, "This form has expired or did not come from this site. Go back, reload the page and try again.")
)

// session returns the member's glasshouse session (signin.Service's
// FromCookie: the one the member API and pages share) if the request
// carries one that is recent enough for the request's max_age (0, as with
// prompt=login, means signed in during this request). EUNAUTHORIZED if not.
func (s *Server) session(r *http.Request, req *glasshouse.AuthRequest) (*glasshouse.Session, error) {
	sess, err := s.signIn.FromCookie(r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if m := req.MaxAge; m != nil && (*m == 0 && sess.CreatedAt.Before(req.CreatedAt) || *m > 0 && now.Sub(sess.CreatedAt) > *m) {
		return nil, errSignIn
	}
	return sess, nil
}

// loginPage shows the login form, or goes on to consent for a member who
// is signed in already.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	f, ok := s.loadFlow(w, r)
	if !ok {
		return
	}
	if slices.Contains(f.req.Prompt, string(oidc.PromptNone)) {
		s.promptNone(w, r, f)
		return
	}
	if _, err := s.session(r, f.req); err == nil {
		http.Redirect(w, r, f.url(consentPath), http.StatusSeeOther)
		return
	} else if glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
		s.internal(w, r, err)
		return
	}
	s.renderLogin(w, r, f, http.StatusOK, f.req.LoginHint, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, f *flow, status int, handle, msg string) {
	s.render(w, r, status, "login", &page{
		Title:   "Sign in",
		Action:  f.url(loginPath),
		CSRF:    s.signIn.CSRFToken(w, r, purposeLogin, f.req.ID),
		Partner: f.client.partner.Name,
		Handle:  handle,
		Error:   msg,
		// The login form comes back here, then goes on to consent.
		formAction: "'self'",
	})
}

// loginRefusals are the login form's words for signin.Service.Login's
// refusals, by code.
var loginRefusals = map[string]string{
	glasshouse.EINVALID:      "Enter your handle and password.",
	glasshouse.EUNAUTHORIZED: "Wrong handle or password.",
	glasshouse.ERATELIMITED:  "Too many failed attempts. Wait a little and try again.",
}

// login checks a handle and password and opens a glasshouse session
// (signin.Service.Login, within the limits every door shares), then goes
// on to consent.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	f, ok := s.loadFlow(w, r)
	if !ok || !s.checkForm(w, r, purposeLogin, f) {
		return
	}
	handle := strings.ToLower(strings.TrimSpace(r.PostFormValue("handle")))
	token, sess, err := s.signIn.Login(r.Context(), handle, r.PostFormValue("password"), clientip.Of(r))
	if msg, refused := loginRefusals[glasshouse.ErrorCode(err)]; refused {
		p := httpio.NewProblem(s.log, r, err)
		p.SetHeader(w.Header())
		s.renderLogin(w, r, f, p.Status, handle, msg)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.signIn.SetCookie(w, r, token, sess)
	http.Redirect(w, r, f.url(consentPath), http.StatusSeeOther)
}

// offered returns the data scopes the consent page offers: those requested
// that the partner may still be granted.
func (f *flow) offered() []string {
	return intersect(dataScopes(f.req.RequestedScopes), f.client.grantable)
}

// signedIn returns the member's session for the flow, or answers for the
// caller: a redirect to the login page, or an internal error.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, f *flow) (*glasshouse.Session, bool) {
	sess, err := s.session(r, f.req)
	if glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
		http.Redirect(w, r, f.url(loginPath), http.StatusSeeOther)
		return nil, false
	} else if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return sess, true
}

// consentPage shows what the partner asks for, one tick box per scope.
func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	f, ok := s.loadFlow(w, r)
	if !ok {
		return
	}
	sess, ok := s.signedIn(w, r, f)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := s.store.MemberByID(ctx, sess.MemberID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	p := &page{
		Title:         "Allow " + f.client.partner.Name + "?",
		Action:        f.url(consentPath),
		CSRF:          s.signIn.CSRFToken(w, r, purposeConsent, f.req.ID),
		Partner:       f.client.partner.Name,
		Member:        cmp.Or(m.DisplayName, "@"+m.Handle),
		Initial:       initial(f.client.partner.Name),
		Purpose:       f.client.agreement.Purpose,
		RetentionDays: f.client.agreement.RetentionDays,
		Until:         earliest(s.now().Add(glasshouse.GrantLifetime), f.client.agreement.ExpiresAt).UTC().Format("2 Jan 2006"),
		Directory:     "/partners#" + f.client.partner.ClientID,
		Email:         m.Email,
		formAction:    consentFormAction(f.req.RedirectURI),
	}
	if s.accessCount != nil {
		// A count that cannot be read leaves its line out; the member can
		// still decide.
		if n, err := s.accessCount(ctx, f.client.partner.ID); err != nil {
			s.log.WarnContext(ctx, "partner access count", "partner", f.client.partner.ID, "err", err)
		} else {
			p.Accesses = accesses(n)
		}
	}
	for _, scope := range f.offered() {
		p.Scopes = append(p.Scopes, scopeChoice{Name: scope, Title: scopeTitles[scope], Description: glasshouse.ScopeDescriptions[scope]})
		if scope != glasshouse.ScopeMessagesRead {
			continue
		}
		convs, err := s.store.Conversations(ctx, m.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, c := range convs {
			p.Conversations = append(p.Conversations, conversationChoice{ID: c.ID, Label: conversationLabel(c, m.ID)})
		}
	}
	s.render(w, r, http.StatusOK, "consent", p)
}

// initial is the first letter of a partner's name, upper case.
func initial(name string) string {
	for _, r := range strings.TrimSpace(name) {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// accesses says a partner's count of accesses in words: "None yet.",
// "1 access to members' data across glasshouse.", "12,345 accesses…".
func accesses(n int64) string {
	if n <= 0 {
		return "None yet."
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if n == 1 {
		b.WriteString(" access")
	} else {
		b.WriteString(" accesses")
	}
	return b.String() + " to members' data across glasshouse."
}

// consentFormAction is the consent page's CSP form-action: the form posts
// to this site ('self'), which then redirects the browser to the partner's
// redirect URI with the code or the refusal. Chrome checks form-action on
// every redirect of a form submission, so 'self' alone would block that
// last step; the request's own redirect URI (exact and registered, checked
// before this page is shown) is the one other place allowed, by its origin
// (CSP ignores paths after a redirect). A host that CSP cannot write (an
// IPv6 literal) falls back to its scheme.
func consentFormAction(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "'self'"
	}
	host := strings.ToLower(u.Host)
	if !cspHost.MatchString(host) {
		return "'self' " + u.Scheme + ":"
	}
	return "'self' " + u.Scheme + "://" + host
}

// cspHost matches a host (and port) that a CSP source expression can hold.
var cspHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

// conversationLabel names a conversation for memberID: a group by its
// title, a direct conversation by the other member.
func conversationLabel(c *glasshouse.Conversation, memberID int64) string {
	if c.Kind == glasshouse.Group {
		return "Group: " + c.Title
	}
	for _, o := range c.Members {
		if o.ID != memberID {
			return "With " + cmp.Or(o.DisplayName, "@"+o.Handle)
		}
	}
	return "Conversation " + strconv.FormatInt(c.ID, 10)
}

// consent records the member's choice. Deny sends access_denied to the
// partner. Allow saves the grant (the ticked scopes, the email choice, the
// picked conversations), completes the request with the granted scopes
// and sends the code to the partner.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.loadFlow(w, r)
	if !ok {
		return
	}
	sess, ok := s.signedIn(w, r, f)
	if !ok {
		return
	}
	if !s.checkForm(w, r, purposeConsent, f) {
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), s.issuer)
	r = r.WithContext(ctx)
	if r.PostFormValue("action") != "allow" {
		op.AuthRequestError(w, r, s.opRequest(f.req), oidc.ErrAccessDenied().WithDescription("The member declined."), s.provider)
		return
	}

	ticked := intersect(f.offered(), r.PostForm["scope"])
	var picked []int64
	if slices.Contains(ticked, glasshouse.ScopeMessagesRead) {
		convs, err := s.store.Conversations(ctx, sess.MemberID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, v := range r.PostForm["conversation"] {
			id, err := strconv.ParseInt(v, 10, 64)
			if err == nil && !slices.Contains(picked, id) && slices.ContainsFunc(convs, func(c *glasshouse.Conversation) bool { return c.ID == id }) {
				picked = append(picked, id)
			}
		}
		if len(picked) == 0 { // reading nothing is not reading
			ticked = slices.DeleteFunc(ticked, func(s string) bool { return s == glasshouse.ScopeMessagesRead })
		}
	}
	realEmail := slices.Contains(ticked, glasshouse.ScopeEmail) && r.PostFormValue("email") == "real"
	if err := s.saveGrant(ctx, sess.MemberID, f.client, ticked, realEmail, picked); err != nil {
		s.internal(w, r, err)
		return
	}
	s.complete(w, r, f, sess, ticked)
}

// complete finishes the flow for the signed-in member with the data scopes
// granted and the protocol scopes asked for, and redirects to the partner
// with the code.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, f *flow, sess *glasshouse.Session, data []string) {
	ctx := r.Context()
	granted := append(slices.DeleteFunc(slices.Clone(f.req.RequestedScopes), func(s string) bool { return !isProtocolScope(s) }), data...)
	err := s.store.CompleteAuthRequest(ctx, f.req.ID, sess.MemberID, sess.CreatedAt, granted)
	if code := glasshouse.ErrorCode(err); code == glasshouse.ECONFLICT || code == glasshouse.ENOTFOUND {
		s.fail(w, r, errFinished)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	req, err := s.store.AuthRequest(ctx, f.req.ID, s.now())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	op.AuthResponse(s.opRequest(req), s.provider, w, r)
}

// promptNone answers a request with prompt=none, which must not show a
// page (OpenID Connect Core §3.1.2.1): a member signed in (recently enough
// for max_age) whose live grant already holds every data scope asked for
// gets a code at once; otherwise the partner gets login_required or
// consent_required.
func (s *Server) promptNone(w http.ResponseWriter, r *http.Request, f *flow) {
	r = r.WithContext(op.ContextWithIssuer(r.Context(), s.issuer))
	sess, err := s.session(r, f.req)
	if glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED || glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		op.AuthRequestError(w, r, s.opRequest(f.req), oidc.ErrLoginRequired().WithDescription("The member is not signed in."), s.provider)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	sd, err := s.standing(r.Context(), f.req.ClientID, sess.MemberID, s.now())
	var ae *AccessError
	if err != nil && !errors.As(err, &ae) {
		s.internal(w, r, err)
		return
	}
	asked := dataScopes(f.req.RequestedScopes)
	if err != nil || slices.ContainsFunc(asked, func(scope string) bool { return !slices.Contains(sd.scopes, scope) }) {
		op.AuthRequestError(w, r, s.opRequest(f.req), (&oidc.Error{ErrorType: "consent_required", Description: "The member has not consented to every scope asked for."}), s.provider)
		return
	}
	s.complete(w, r, f, sess, asked)
}

// saveGrant records memberID's consent to c's partner under its current
// agreement, as the consent screen takes it: the ticked scopes, the email
// choice, the picked conversations, and a relay address for a new grant.
func (s *Server) saveGrant(ctx context.Context, memberID int64, c *client, ticked []string, realEmail bool, picked []int64) error {
	now, p, a := s.now(), c.partner, c.agreement
	relay, err := s.relayAddress(memberID, p.ID)
	if err != nil {
		return err
	}
	_, err = s.store.SaveGrant(ctx, glasshouse.Grant{
		MemberID:         memberID,
		PartnerID:        p.ID,
		PartnerName:      p.Name,
		AgreementVersion: a.Version,
		Scopes:           ticked,
		RealEmail:        realEmail,
		Conversations:    picked,
		RelayEnabled:     true,
		GrantedAt:        now,
		ConfirmedAt:      now,
		ExpiresAt:        earliest(now.Add(glasshouse.GrantLifetime), a.ExpiresAt),
	}, relay)
	return err
}

// SeedGrant records memberID's consent to the partner clientID for the
// given scopes (those its agreement allows), as if the member had ticked
// them on the consent screen, with the relay address for email and no
// conversation picked. The demo world uses it for members who already use
// a demo app.
func (s *Server) SeedGrant(ctx context.Context, memberID int64, clientID string, scopes []string) error {
	c, err := s.client(ctx, clientID, s.now())
	if err != nil {
		return err
	}
	ticked := slices.DeleteFunc(intersect(c.grantable, scopes), func(s string) bool {
		return s == glasshouse.ScopeMessagesRead // reading nothing is not reading
	})
	return s.saveGrant(ctx, memberID, c, ticked, false, nil)
}

// The purposes the pages' CSRF tokens are bound to, with the
// authorization request. The consent form's token is bound to the member
// too, through the session (signin.Service.CSRFToken).
const (
	purposeLogin   = "oauth/login"
	purposeConsent = "oauth/consent"
)

// checkForm parses a POSTed form and checks its CSRF token, made for
// purpose on the flow's request (signin.Service.ParseForm), or answers
// with an error page and returns false.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request, purpose string, f *flow) bool {
	err := s.signIn.ParseForm(w, r, purpose, f.req.ID)
	if errors.Is(err, signin.ErrCSRF) {
		err = errFormExpired // the pages' own words: the way back is to the app
	}
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

// render writes a page with headers that keep it out of caches and frames,
// and a Content-Security-Policy that allows no script at all, styles and
// images from this site only, and forms posted only to p.formAction.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Stylesheet = s.stylesheet
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+
		cmp.Or(p.formAction, "'none'")+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers with the error page for err (httpio.NewProblem): the
// status and message of its code, or for an internal error (logged) a
// generic text.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := httpio.NewProblem(s.log, r, err)
	p.SetHeader(w.Header())
	if p.Code == glasshouse.EINTERNAL {
		p.Message = "Something went wrong on our side. Try again in a moment."
	}
	s.render(w, r, p.Status, "error", &page{Title: "Cannot continue", Message: p.Message})
}

// internal answers an error the page did not expect as the server's own,
// whatever its code: logged, and the generic error page.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, fmt.Errorf("oauth page: %v", err)) // %v: no code survives
}
