package messenger_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/browsertest"
)

// css selects by CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitFor waits until the JavaScript expression is true in the tab.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
}

// texts returns the texts of the conversation shown in the tab, in order.
func texts(t *testing.T, ctx context.Context) []string {
	return browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .text")].map(e => e.textContent)`))
}

// TestBrowserChat drives two members in two browsers: they sign up, become
// friends through the pages, and chat both ways, each seeing the other's
// messages arrive without a reload.
func TestBrowserChat(t *testing.T) {
	b := browsertest.New(t)
	s := MustSite(t)
	alice, bob := b.NewContext(t), b.NewContext(t)

	// Alice reads the landing page and signs up, fixing her mistakes.
	browsertest.Do(t, alice, chromedp.Navigate(s.URL), chromedp.WaitVisible(css(".hero")))
	browsertest.Screenshot(t, alice, "landing")
	browsertest.Do(t, alice,
		chromedp.Click(css(`.hero a[href="/signup"]`)),
		chromedp.WaitVisible(css("#f-handle")),
		chromedp.SendKeys(css("#f-handle"), "Alice Liddell"),
		chromedp.SendKeys(css("#f-display_name"), "Alice"),
		chromedp.SendKeys(css("#f-email"), "alice@example.org"),
		chromedp.SendKeys(css("#f-new_password"), "short"),
		chromedp.Click(css(`main form button[type=submit]`)),
		chromedp.WaitVisible(css("#e-handle")),
		chromedp.WaitVisible(css("#e-new_password")),
	)
	browsertest.Screenshot(t, alice, "signup")
	browsertest.Do(t, alice,
		chromedp.SetValue(css("#f-handle"), "alice"),
		chromedp.SendKeys(css("#f-new_password"), testPassword),
		chromedp.Click(css(`main form button[type=submit]`)),
		chromedp.WaitVisible(css("#find-h")),
	)

	// Bob signs up too, and Alice sends him a friend request.
	browsertest.Do(t, bob,
		chromedp.Navigate(s.URL+"/signup"),
		chromedp.SendKeys(css("#f-handle"), "bob"),
		chromedp.SendKeys(css("#f-display_name"), "Bob"),
		chromedp.SendKeys(css("#f-email"), "bob@example.org"),
		chromedp.SendKeys(css("#f-new_password"), testPassword),
		chromedp.Click(css(`main form button[type=submit]`)),
		chromedp.WaitVisible(css("#find-h")),
	)
	browsertest.Do(t, alice,
		chromedp.SendKeys(css("#f-handle"), "bob"),
		chromedp.Click(css(`form[action="/friends"] button`)),
		chromedp.WaitVisible(css(`button[aria-label="Cancel the request to @bob"]`)),
	)
	browsertest.Do(t, bob,
		chromedp.Navigate(s.URL+"/friends"),
		chromedp.Click(css(`button[aria-label="Accept @alice"]`)),
		chromedp.WaitVisible(css(`button[aria-label="Message @alice"]`)),
	)
	browsertest.Screenshot(t, bob, "friends")

	// Bob opens a chat; Alice watches her conversations list, where his
	// message shows up as unread without a reload.
	browsertest.Do(t, bob, chromedp.Click(css(`button[aria-label="Message @alice"]`)), chromedp.WaitVisible(css("#compose")))
	browsertest.Do(t, alice, chromedp.Navigate(s.URL+"/messages"), chromedp.WaitVisible(css("#conversations li")),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	browsertest.Do(t, bob,
		chromedp.SendKeys(css("#f-text"), "Hi Alice! Dinner tonight?"),
		chromedp.Click(css("#compose button")),
		waitFor(`document.querySelector("#messages .msg.mine .text")?.textContent === "Hi Alice! Dinner tonight?"`),
	)
	browsertest.Do(t, alice, waitFor(`window.notReloaded && document.querySelector("#conversations .unread:not([hidden])")?.textContent === "1 unread"`))
	// The list previews the new message, with its time, without a reload.
	browsertest.Do(t, alice, waitFor(`document.querySelector("#conversations .conv-preview").textContent === "Hi Alice! Dinner tonight?" &&
		"local" in document.querySelector("#conversations .conv-last time").dataset`))
	browsertest.Screenshot(t, alice, "messages")

	// Alice opens the chat and answers with Enter; each sees the other's
	// messages arrive live, a partner's with its badge.
	browsertest.Do(t, alice, chromedp.Click(css("#conversations a")), chromedp.WaitVisible(css("#compose")),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	browsertest.Do(t, bob, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	browsertest.Do(t, alice, chromedp.SendKeys(css("#f-text"), "Yes! 7pm at mine?\n"))
	browsertest.Do(t, bob, waitFor(`window.notReloaded && document.querySelectorAll("#messages .msg").length === 2`))
	browsertest.Do(t, bob, chromedp.SendKeys(css("#f-text"), "Perfect, see you then."), chromedp.Click(css("#compose button")))
	browsertest.Do(t, alice, waitFor(`window.notReloaded && document.querySelectorAll("#messages .msg").length === 3`))

	conv, err := s.Store.Conversations(context.Background(), mustID(t, s, "alice"))
	if err != nil || len(conv) != 1 {
		t.Fatalf("alice's conversations: %v, %v", conv, err)
	}
	if _, _, err := s.Store.SendMessage(context.Background(), glasshouse.NewMessage{
		ConversationID: conv[0].ID, SenderID: mustID(t, s, "alice"), Text: "Just watched Metropolis, you'd love it", ViaPartner: "Streamflix"}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, bob, waitFor(`window.notReloaded && document.querySelector("#messages .msg:last-child .badge.via")?.textContent === "sent via Streamflix"`))
	want := []string{"Hi Alice! Dinner tonight?", "Yes! 7pm at mine?", "Perfect, see you then.", "Just watched Metropolis, you'd love it"}
	browsertest.Do(t, alice, waitFor(`document.querySelectorAll("#messages .msg").length === 4`))
	for name, ctx := range map[string]context.Context{"alice": alice, "bob": bob} {
		if got := texts(t, ctx); !slices.Equal(got, want) {
			t.Errorf("%s sees %q; want %q", name, got, want)
		}
	}
	// Every time, the live ones too, in the pages' one style, in the
	// reader's zone (time.js).
	for name, ctx := range map[string]context.Context{"alice": alice, "bob": bob} {
		browsertest.Do(t, ctx, waitFor(`[...document.querySelectorAll("#messages time")].every(e => "local" in e.dataset)`))
		times := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages time")].map(e => e.textContent)`))
		for _, tm := range times {
			if !regexp.MustCompile(`^[1-9][0-9]? [A-Z][a-z]{2} [0-9]{4}, [0-9]{2}:[0-9]{2} \S+$`).MatchString(tm) {
				t.Errorf("%s sees a message time %q; want 3 Dec 2026, 14:05 UTC", name, tm)
			}
		}
	}
	browsertest.Screenshot(t, alice, "conversation-alice")
	browsertest.Screenshot(t, bob, "conversation-bob")
	browsertest.Do(t, bob, chromedp.EmulateViewport(390, 844))
	browsertest.Screenshot(t, bob, "conversation-bob-phone")

	// Alice's open page marked Bob's live message read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conv, err := s.Store.Conversation(context.Background(), mustID(t, s, "alice"), conv[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if conv.Unread == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice still has %d unread with the conversation open", conv.Unread)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustID(tb testing.TB, s *site, handle string) int64 {
	tb.Helper()
	m, err := s.Store.MemberByHandle(context.Background(), handle)
	if err != nil {
		tb.Fatal(fmt.Errorf("member %s: %w", handle, err))
	}
	return m.ID
}
