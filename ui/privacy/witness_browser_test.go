package privacy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/browsertest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/internal/witnesstest"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/ui/privacy"
)

// cosigning adds the cosignatures of the witnesses it is set to to every
// checkpoint the site serves, as Tessera does with witnesses configured.
type cosigning struct {
	t  *testing.T
	mu sync.Mutex
	by []witnesstest.Cosigner
}

func (c *cosigning) set(by ...witnesstest.Cosigner) {
	c.mu.Lock()
	c.by = by
	c.mu.Unlock()
}

func (c *cosigning) cosign(raw []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.by {
		raw = w.Cosign(c.t, raw)
	}
	return raw
}

func (c *cosigning) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/log/checkpoint" && r.URL.Path != "/api/v1/me/access" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && r.URL.Path == "/log/checkpoint" {
			body = c.cosign(body)
		} else if rec.Code == http.StatusOK {
			var page map[string]any
			if err := json.Unmarshal(body, &page); err == nil {
				if cp, ok := page["checkpoint"].(string); ok {
					page["checkpoint"] = string(c.cosign([]byte(cp)))
				}
				body, _ = json.Marshal(page)
			}
		}
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// TestBrowserVerifiesWitnesses: with witnesses configured, the member's
// browser accepts a checkpoint only with a quorum of valid cosignatures,
// and says whose.
func TestBrowserVerifiesWitnesses(t *testing.T) {
	b := browsertest.New(t)
	wa, wb := witnesstest.NewCosigner(t, "witness.test/a"), witnesstest.NewCosigner(t, "witness.test/b")
	policy, err := accesslog.ParseWitnessPolicy([]string{"a " + wa.VerifierKey, "b " + wb.VerifierKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	cs := &cosigning{t: t}
	s := mustSiteWith(t, func(c *privacy.Config) { c.Witnesses = policy }, func(o *sitetest.Options) { o.Wrap = cs.wrap })
	alice := s.MustMember(t, "alice")
	s.MustGrant(t, alice, s.Streamflix, glasshouse.ScopeFriends)
	for i := range 2 {
		s.MustRecord(t, alice, s.Streamflix, time.Now().Add(time.Duration(i-5)*time.Hour), "GET /graph/v1/me/friends", true, glasshouse.ScopeFriends)
	}
	s.Log.MustFeed(t)
	tab := b.NewContext(t)
	browsertest.Do(t, tab, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, network.SetCookie, network.SetCookieParams{Name: signin.CookieName, Value: alice.Token, URL: s.URL})
		return err
	}))
	history := fmt.Sprintf("%s/privacy/apps/%d", s.URL, s.Streamflix.ID)

	for _, tt := range []struct {
		name    string
		by      []witnesstest.Cosigner
		verdict string
		checked string
	}{
		{"quorum", []witnesstest.Cosigner{wa, wb}, "verified", "and cosigned by 2 of 2 witnesses (witness.test/a, witness.test/b)."},
		{"one of two", []witnesstest.Cosigner{wb}, "failed", "but cosigned by 1 of the 2 witnesses, fewer than the 2 needed"},
		{"none", nil, "failed", "but cosigned by 0 of the 2 witnesses"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs.set(tt.by...)
			browsertest.Do(t, tab, chromedp.Navigate(history))
			rows := rowsWhen(t, tab, `st.every(v => v !== "")`)
			if len(rows) != 2 {
				t.Fatalf("%d rows; want 2", len(rows))
			}
			for _, r := range rows {
				if r.Verdict != tt.verdict || !strings.Contains(r.Checked, tt.checked) {
					t.Errorf("row %+v; want %s, %q", r, tt.verdict, tt.checked)
				}
			}
		})
	}
}
