package privacy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/browsertest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/signin"
)

// tamperer sits in front of the whole server and, when told to, serves a
// lie: a wrong inclusion proof for one event, or another log key.
type tamperer struct {
	mu         sync.Mutex
	proofOf    string // the event id whose first proof hash is flipped
	foreignKey string // served at /log/key instead of the log's
}

func (tm *tamperer) set(proofOf, foreignKey string) {
	tm.mu.Lock()
	tm.proofOf, tm.foreignKey = proofOf, foreignKey
	tm.mu.Unlock()
}

func (tm *tamperer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tm.mu.Lock()
		proofOf, foreignKey := tm.proofOf, tm.foreignKey
		tm.mu.Unlock()
		switch {
		case r.URL.Path == "/log/key" && foreignKey != "":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, foreignKey)
		case r.URL.Path == "/api/v1/me/access" && proofOf != "":
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			events, _ := page["events"].([]any)
			for _, e := range events {
				ev := e.(map[string]any)
				if proof, ok := ev["proof"].([]any); ok && ev["event_id"] == proofOf && len(proof) > 0 {
					h, _ := base64.StdEncoding.DecodeString(proof[0].(string))
					h[0] ^= 1
					proof[0] = base64.StdEncoding.EncodeToString(h)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// phoneScreenshot saves a screenshot of the tab at a phone's width.
func phoneScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	browsertest.Do(t, tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	browsertest.Screenshot(t, tab, name)
	browsertest.Do(t, tab, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
}

// row is one row of the history table as the browser marked it.
type row struct {
	Event, Verdict, Mark, Checked, Index string
}

// rowsWhen waits until the JavaScript condition on st (the rows' verdicts)
// holds, and returns the rows.
func rowsWhen(t *testing.T, tab context.Context, cond string) []row {
	t.Helper()
	js := `(() => {
		const rows = [...document.querySelectorAll("table[data-verify] tbody tr")];
		const st = rows.map(r => r.dataset.verified || "");
		if (!(` + cond + `)) return false;
		return rows.map(r => ({
			Event: r.dataset.event, Verdict: r.dataset.verified,
			Mark: r.querySelector("td.proof .mark").textContent,
			Checked: (r.querySelector("td.proof .checked") || {textContent: ""}).textContent,
			Index: r.querySelector("td.index").textContent,
		}));
	})()`
	return browsertest.Run(t, tab, chromedp.Poll[[]row](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second)))
}

func TestBrowserVerifies(t *testing.T) {
	b := browsertest.New(t)
	tm := &tamperer{}
	s := MustSite(t, func(o *sitetest.Options) { o.Wrap = tm.wrap })
	alice, bob := s.MustMember(t, "alice"), s.MustMember(t, "bobby")
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	s.MustGrant(t, alice, s.Shopzon, glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	now := time.Now()
	// Interleaved with bob's, so that alice's entries sit among others'
	// in the tree and their proofs have several hashes.
	var recs []*glasshouse.AccessRecord
	for i, step := range []struct {
		m        *member
		p        *glasshouse.Partner
		endpoint string
		granted  bool
		scope    string
	}{
		{alice, s.Streamflix, "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends},
		{bob, s.Shopzon, "GET /graph/v1/me", true, glasshouse.ScopeProfile},
		{alice, s.Streamflix, "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend},
		{bob, s.Shopzon, "GET /graph/v1/me", true, glasshouse.ScopeProfile},
		{alice, s.Shopzon, "GET /graph/v1/me", true, glasshouse.ScopeProfile},
		{alice, s.Streamflix, "GET /graph/v1/me/conversations/{id}/messages", false, glasshouse.ScopeMessagesRead},
		{bob, s.Shopzon, "GET /graph/v1/me", true, glasshouse.ScopeEmail},
	} {
		rec := s.MustRecord(t, step.m, step.p, now.Add(time.Duration(i-10)*time.Hour*5), step.endpoint, step.granted, step.scope)
		if step.m == alice && step.p == s.Streamflix {
			recs = append(recs, rec)
		}
	}
	s.Log.MustFeed(t)
	pending := s.MustRecord(t, alice, s.Streamflix, now, "POST /graph/v1/me/messages", true, glasshouse.ScopeMessagesSend)

	signedIn := func(t *testing.T) context.Context {
		tab := b.NewContext(t)
		browsertest.Do(t, tab, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, network.SetCookie, network.SetCookieParams{Name: signin.CookieName, Value: alice.Token, URL: s.URL})
			return err
		}))
		return tab
	}
	tab := signedIn(t)
	history := fmt.Sprintf("%s/privacy/apps/%d", s.URL, s.Streamflix.ID)
	key := strings.SplitN(s.Log.Key.VerifierKey, "+", 3)
	keyID := key[0] + "+" + key[1]

	t.Run("verified", func(t *testing.T) {
		browsertest.Do(t, tab, chromedp.Navigate(history))
		rows := rowsWhen(t, tab, `st.every(v => v !== "")`)
		if len(rows) != 4 {
			t.Fatalf("%d rows; want alice's 4 Streamflix events", len(rows))
		}
		if rows[0].Event != fmt.Sprintf("%x", pending.EventID) || rows[0].Verdict != "waiting" || rows[0].Mark != "waiting for the log" {
			t.Errorf("the unfed event: %+v; want it waiting for the log", rows[0])
		}
		for _, r := range rows[1:] {
			if r.Verdict != "verified" || r.Mark != "verified" ||
				!strings.HasPrefix(r.Checked, "Entry hash → inclusion proof (") || !strings.HasSuffix(r.Checked, "root of checkpoint 9 signed by key "+keyID+".") {
				t.Errorf("row %+v; want verified against checkpoint 9 signed by %s", r, keyID)
			}
		}
		status := browsertest.Run(t, tab, chromedp.Text(chromedp.ID("verify-status")))
		if !strings.Contains(status, "3 verified (entry hash → inclusion proof → root of a checkpoint signed by key "+keyID+")") ||
			!strings.Contains(status, "1 waiting for the log") {
			t.Errorf("status %q", status)
		}
		browsertest.Screenshot(t, tab, "history")
		phoneScreenshot(t, tab, "history-phone")

		// Once the log takes the last event in, the page marks it too,
		// without a reload.
		s.Log.MustFeed(t)
		rows = rowsWhen(t, tab, `st.every(v => v === "verified")`)
		if !strings.HasSuffix(rows[0].Checked, "root of checkpoint 10 signed by key "+keyID+".") || rows[0].Index == "not yet" {
			t.Errorf("the newly fed event: %+v; want verified against checkpoint 10 with its index", rows[0])
		}
	})

	t.Run("no Ed25519", func(t *testing.T) {
		// A browser whose WebCrypto lacks Ed25519 (before Chromium 137):
		// the proofs are checked, the signature is not, and the page says so.
		old := signedIn(t)
		browsertest.Do(t, old, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `
				const importKey = SubtleCrypto.prototype.importKey;
				SubtleCrypto.prototype.importKey = function (format, key, alg, ...rest) {
					if (alg === "Ed25519" || (alg && alg.name === "Ed25519")) {
						return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
					}
					return importKey.call(this, format, key, alg, ...rest);
				};`})
			return err
		}), chromedp.Navigate(history))
		rows := rowsWhen(t, old, `st.every(v => v !== "")`)
		for _, r := range rows {
			if r.Verdict != "partial" || r.Mark != "proof checked, signature not checked" ||
				!strings.Contains(r.Checked, "root of checkpoint 10. This browser cannot check Ed25519 signatures") {
				t.Errorf("row %+v; want the proof checked and the signature not", r)
			}
		}
		status := browsertest.Run(t, old, chromedp.Text(chromedp.ID("verify-status")))
		if !strings.Contains(status, "4 with the proof checked but not the signature: this browser has no Ed25519 in WebCrypto") {
			t.Errorf("status %q", status)
		}
		browsertest.Screenshot(t, old, "no-ed25519")
	})

	t.Run("wrong proof", func(t *testing.T) {
		target := fmt.Sprintf("%x", recs[1].EventID)
		tm.set(target, "")
		defer tm.set("", "")
		browsertest.Do(t, tab, chromedp.Navigate(history))
		rows := rowsWhen(t, tab, `st.every(v => v === "verified" || v === "failed")`)
		for _, r := range rows {
			want := "verified"
			if r.Event == target {
				want = "failed"
				if r.Mark != "not verified" || !strings.Contains(r.Checked, "does not lead to the root of checkpoint 10") {
					t.Errorf("tampered row %+v", r)
				}
			}
			if r.Verdict != want {
				t.Errorf("row %s: %s; want %s", r.Event, r.Verdict, want)
			}
		}
		status := browsertest.Run(t, tab, chromedp.Text(chromedp.ID("verify-status")))
		if !strings.Contains(status, "3 verified") || !strings.Contains(status, "1 NOT verified") {
			t.Errorf("status %q", status)
		}
		browsertest.Screenshot(t, tab, "wrong-proof")
	})

	t.Run("foreign key", func(t *testing.T) {
		_, foreign, err := accesslog.NewKey("glasshouse.test/log", nil)
		if err != nil {
			t.Fatal(err)
		}
		tm.set("", foreign.VerifierKey)
		defer tm.set("", "")
		browsertest.Do(t, tab, chromedp.Navigate(history))
		rows := rowsWhen(t, tab, `st.every(v => v !== "")`)
		for _, r := range rows {
			if r.Verdict != "failed" || r.Mark != "not verified" || !strings.Contains(r.Checked, "the checkpoint is not the log's: it carries no signature by the log key") {
				t.Errorf("row %+v; want not verified: no signature by the served key", r)
			}
		}
		browsertest.Screenshot(t, tab, "foreign-key")
	})

	t.Run("overview and forms", func(t *testing.T) {
		browsertest.Do(t, tab, chromedp.Navigate(s.URL+"/privacy"), chromedp.WaitVisible(chromedp.ID("apps-h")))
		browsertest.Screenshot(t, tab, "overview")
		phoneScreenshot(t, tab, "overview-phone")
		// The trail command copies with one click, as it reads.
		want := browsertest.Run(t, tab, chromedp.Text(chromedp.ID("trail-command")))
		if !strings.HasPrefix(want, "glasshouse audit trail "+s.URL+" --member-key ") {
			t.Errorf("command %q", want)
		}
		// The test reads the clipboard back: a permission of its tab's
		// browser context.
		c := chromedp.FromContext(tab)
		if _, err := cdp.Call(tab, c.Browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted,
			Origin: s.URL, BrowserContextID: c.BrowserContextID}); err != nil {
			t.Fatal(err)
		}
		browsertest.Do(t, tab, chromedp.Click(chromedp.CSS(`button[data-copy="trail-command"]`)),
			chromedp.Poll[chromedp.Void](`document.querySelector(".copy-status").textContent === "Copied."`, chromedp.WithPollingInterval(100*time.Millisecond)))
		if got := browsertest.Run(t, tab, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); got != want {
			t.Errorf("clipboard holds %q; want the command %q", got, want)
		}
		// Withdraw friends from Streamflix with the real form.
		browsertest.Do(t, tab,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#app-%d form[action$="revoke-scope"] input[value="friends"] + button`, s.Streamflix.ID))),
			chromedp.WaitVisible(chromedp.CSS("p.flash")))
		if flash := browsertest.Run(t, tab, chromedp.Text(chromedp.CSS("p.flash"))); !strings.HasPrefix(flash, "The scope is withdrawn.") {
			t.Errorf("flash %q", flash)
		}
		g, err := s.Store.Grant(context.Background(), alice.ID, s.Streamflix.ID)
		if err != nil || len(g.Scopes) != 1 || g.Scopes[0] != glasshouse.ScopeMessagesSend {
			t.Errorf("grant after the browser withdrew friends: %+v, %v", g, err)
		}
	})

	t.Run("keyboard alone", func(t *testing.T) {
		browsertest.Do(t, tab, chromedp.Navigate(s.URL+"/privacy"), chromedp.WaitVisible(chromedp.ID("apps-h")))
		// The first Tab reaches the skip link, which shows with its focus
		// ring; Enter skips to the content.
		browsertest.Do(t, tab, chromedp.KeyEvent("\t"))
		type focus struct {
			Text, Outline string
			Top           float64
		}
		f := browsertest.Run(t, tab, chromedp.Evaluate[focus](`(() => { const e = document.activeElement;
			return {Text: e.textContent, Outline: getComputedStyle(e).outlineStyle, Top: e.getBoundingClientRect().top}; })()`))
		if f.Text != "Skip to content" || f.Outline == "none" || f.Top < 0 {
			t.Errorf("the first Tab focuses %+v; want the skip link, visible, with a focus ring", f)
		}
		browsertest.Do(t, tab, chromedp.KeyEvent("\r"), chromedp.Poll[chromedp.Void](`location.hash === "#main"`))
		// Disconnect with the keyboard: Enter opens the question, Tab
		// reaches the answer, Enter confirms.
		app := fmt.Sprintf("#app-%d", s.Streamflix.ID)
		browsertest.Do(t, tab, chromedp.Focus(chromedp.CSS(app+" .confirm-disconnect summary")), chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(app+` form[action$="/revoke"] button`)), chromedp.KeyEvent("\t"))
		if got := browsertest.Run(t, tab, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Yes, disconnect Streamflix" {
			t.Fatalf("Tab after opening the question focuses %q; want the confirming button", got)
		}
		browsertest.Do(t, tab, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("p.flash")))
		if _, err := s.Store.Grant(context.Background(), alice.ID, s.Streamflix.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Errorf("Streamflix's grant after disconnecting with the keyboard: %v; want it gone", err)
		}
	})

	t.Run("disconnect asks first", func(t *testing.T) {
		browsertest.Do(t, tab, chromedp.Navigate(s.URL+"/privacy"), chromedp.WaitVisible(chromedp.ID("apps-h")))
		app := fmt.Sprintf("#app-%d", s.Shopzon.ID)
		confirm := chromedp.CSS(app + ` form[action$="/revoke"] button`)
		if browsertest.Run(t, tab, chromedp.Evaluate[bool](`document.querySelector("`+app+` form[action$='/revoke'] button").checkVisibility()`)) {
			t.Fatal("the confirming button shows before Disconnect is clicked")
		}
		browsertest.Do(t, tab, chromedp.Click(chromedp.CSS(app+" .confirm-disconnect summary")), chromedp.WaitVisible(confirm))
		if _, err := s.Store.Grant(context.Background(), alice.ID, s.Shopzon.ID); err != nil {
			t.Fatalf("Shopzon disconnected before the confirmation: %v", err)
		}
		browsertest.Screenshot(t, tab, "disconnect-confirm")
		browsertest.Do(t, tab, chromedp.Click(confirm), chromedp.WaitVisible(chromedp.CSS("p.flash")))
		if _, err := s.Store.Grant(context.Background(), alice.ID, s.Shopzon.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Errorf("Shopzon's grant after the confirmation: %v; want it gone", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		browsertest.Do(t, tab, chromedp.Navigate(s.URL+"/privacy/delete"), chromedp.WaitVisible(chromedp.ID("delete-h")))
		browsertest.Screenshot(t, tab, "delete")
		// A wrong handle first: the message shows next to the field.
		browsertest.Do(t, tab,
			chromedp.SendKeys(chromedp.ID("f-handle"), "bobby"),
			chromedp.SendKeys(chromedp.ID("f-password"), sitetest.Password),
			chromedp.Click(chromedp.CSS("form.confirm button[type=submit]")),
			chromedp.WaitVisible(chromedp.ID("e-handle")))
		browsertest.Run(t, tab, chromedp.Poll[bool](`document.readyState === "complete"`))
		browsertest.Screenshot(t, tab, "delete-refused")
		if len(s.Deleted()) != 0 {
			t.Fatal("deleted after a wrong handle")
		}
		browsertest.Do(t, tab,
			chromedp.SetValue(chromedp.ID("f-handle"), "alice"),
			chromedp.SendKeys(chromedp.ID("f-password"), sitetest.Password),
			chromedp.Click(chromedp.CSS("form.confirm button[type=submit]")),
			chromedp.WaitVisible(chromedp.ID("bye-h")))
		browsertest.Screenshot(t, tab, "goodbye")
		if got := s.Deleted(); len(got) != 1 || got[0] != alice.ID {
			t.Errorf("deleted %v; want alice", got)
		}
	})
}
