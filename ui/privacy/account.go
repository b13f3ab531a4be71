package privacy

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/ui"
)

// export sends the member's data as a zip attachment named after them and
// the day (GDPR Art. 15 and 20).
func (pc *Center) export(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	if err := pc.kit.ParseForm(w, r); err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	if ok, _ := pc.c.Exports.Allow(strconv.FormatInt(m.ID, 10)); !ok {
		pc.kit.Fail(w, r, glasshouse.Errorf(glasshouse.ERATELIMITED, "You downloaded your data several times just now; try again in a few minutes."))
		return
	}
	name := fmt.Sprintf("glasshouse-%s-%s.zip", m.Handle, pc.now().UTC().Format("2006-01-02"))
	d := &download{w: w, disposition: mime.FormatMediaType("attachment", map[string]string{"filename": name})}
	err := pc.c.Export(r.Context(), m.ID, d)
	switch {
	case err != nil && !d.started:
		pc.kit.Fail(w, r, fmt.Errorf("export member %d: %w", m.ID, err))
	case err != nil:
		// Part of the zip is out: cut the connection, so that the
		// browser reports a failed download rather than keep a
		// truncated file.
		pc.log.ErrorContext(r.Context(), "export", "member", m.ID, "err", err)
		panic(http.ErrAbortHandler)
	case !d.started:
		d.start()
	}
}

// download writes the attachment's headers before its first byte.
type download struct {
	w           http.ResponseWriter
	disposition string
	started     bool
}

func (d *download) start() {
	h := d.w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", d.disposition)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	d.w.WriteHeader(http.StatusOK)
	d.started = true
}

func (d *download) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !d.started {
		d.start()
	}
	return d.w.Write(p)
}

func (pc *Center) deletePage(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	pc.render(w, r, "delete", http.StatusOK, &ui.Page{Member: m})
}

// deleteAccount erases the account once the member typed their handle and
// password, signs them out and says goodbye.
func (pc *Center) deleteAccount(w http.ResponseWriter, r *http.Request, m *glasshouse.Member) {
	if err := pc.kit.ParseForm(w, r); err != nil {
		pc.kit.Fail(w, r, err)
		return
	}
	refuse := func(status int, errs map[string]string) {
		pc.render(w, r, "delete", status, &ui.Page{Member: m, Errors: errs, Form: r.PostForm})
	}
	handle := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("handle")), "@"))
	pw := r.PostFormValue("password")
	errs := map[string]string{}
	if handle != m.Handle {
		errs["handle"] = fmt.Sprintf("Type your handle, %s, to confirm.", m.Handle)
	}
	if pw == "" {
		errs["password"] = "Enter your password."
	}
	if len(errs) > 0 {
		refuse(http.StatusBadRequest, errs)
		return
	}
	ctx := r.Context()
	if err := pc.checkPassword(ctx, m, pw); err != nil {
		switch glasshouse.ErrorCode(err) {
		case glasshouse.EUNAUTHORIZED:
			refuse(http.StatusBadRequest, map[string]string{"password": glasshouse.ErrorMessage(err)})
		case glasshouse.ERATELIMITED:
			refuse(http.StatusTooManyRequests, map[string]string{"": glasshouse.ErrorMessage(err)})
		default:
			pc.kit.Fail(w, r, err)
		}
		return
	}
	if err := pc.c.DeleteAccount(ctx, m.ID); err != nil {
		pc.kit.Fail(w, r, fmt.Errorf("delete account of member %d: %w", m.ID, err))
		return
	}
	pc.log.InfoContext(ctx, "account deleted", "member", m.ID)
	if err := pc.c.SignOut(w, r); err != nil {
		// The account and its sessions are gone; the cookie names nothing.
		pc.log.WarnContext(ctx, "sign out after deletion", "err", err)
	}
	pc.render(w, r, "goodbye", http.StatusOK, &ui.Page{Section: "goodbye", Data: m.Handle})
}

// checkPassword checks the member's password within the limit of failed
// attempts on their account: EUNAUTHORIZED when wrong, ERATELIMITED.
func (pc *Center) checkPassword(ctx context.Context, m *glasshouse.Member, pw string) error {
	done, ok, after := pc.c.PasswordAttempts.Attempt(m.Handle)
	if !ok {
		return glasshouse.Errorf(glasshouse.ERATELIMITED,
			"Too many wrong passwords for this account; try again in %d seconds.", int(after.Seconds())+1)
	}
	failed := true
	defer func() { done(failed) }()
	_, hash, err := pc.store.PasswordHash(ctx, m.Handle)
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	match, err := password.Verify(pw, hash)
	if err != nil {
		return fmt.Errorf("check password of member %d: %w", m.ID, err)
	} else if !match {
		return glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "That is not your password.")
	}
	failed = false
	return nil
}
