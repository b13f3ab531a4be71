package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
)

func event(id int64, recipients ...int64) glasshouse.Event {
	return glasshouse.Event{Message: &glasshouse.Message{ID: id}, Recipients: recipients}
}

func MustSubscribe(tb testing.TB, h *realtime.Hub, memberID int64) glasshouse.Subscription {
	tb.Helper()
	s, err := h.Subscribe(context.Background(), memberID)
	if err != nil {
		tb.Fatalf("Subscribe(%d): %v", memberID, err)
	}
	tb.Cleanup(s.Close)
	return s
}

// MustReceive returns the ids of the n events waiting on s.
func MustReceive(tb testing.TB, s glasshouse.Subscription, n int) []int64 {
	tb.Helper()
	var ids []int64
	for range n {
		select {
		case ev, ok := <-s.C():
			if !ok {
				tb.Fatalf("subscription closed after %v; want %d events", ids, n)
			}
			ids = append(ids, ev.Message.ID)
		case <-time.After(5 * time.Second):
			tb.Fatalf("timed out after %v; want %d events", ids, n)
		}
	}
	return ids
}

func MustBeEmpty(tb testing.TB, s glasshouse.Subscription) {
	tb.Helper()
	select {
	case ev, ok := <-s.C():
		tb.Fatalf("got event %+v (open=%v); want none", ev.Message, ok)
	default:
	}
}

func MustBeClosed(tb testing.TB, s glasshouse.Subscription) {
	tb.Helper()
	for {
		select {
		case _, ok := <-s.C():
			if !ok {
				return
			}
		case <-time.After(5 * time.Second):
			tb.Fatal("subscription still open")
		}
	}
}

func TestPublishReachesEachRecipientInOrder(t *testing.T) {
	h := realtime.NewHub(0)
	alice1, alice2 := MustSubscribe(t, h, 1), MustSubscribe(t, h, 1)
	bob, carol := MustSubscribe(t, h, 2), MustSubscribe(t, h, 3)

	h.Publish(event(10, 1, 2))
	h.Publish(event(11, 2))
	h.Publish(event(12, 1, 2))
	h.Publish(event(13, 4)) // nobody listening

	for name, tt := range map[string]struct {
		sub  glasshouse.Subscription
		want []int64
	}{
		"alice first stream":  {alice1, []int64{10, 12}},
		"alice second stream": {alice2, []int64{10, 12}},
		"bob":                 {bob, []int64{10, 11, 12}},
		"carol":               {carol, nil},
	} {
		got := MustReceive(t, tt.sub, len(tt.want))
		if len(got) != len(tt.want) {
			t.Errorf("%s got %v; want %v", name, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s got %v; want %v", name, got, tt.want)
				break
			}
		}
		MustBeEmpty(t, tt.sub)
	}
}

func TestLaggingSubscriberIsClosedWithoutBlocking(t *testing.T) {
	h := realtime.NewHub(4)
	slow, fast := MustSubscribe(t, h, 1), MustSubscribe(t, h, 1)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := range int64(10) {
			h.Publish(event(id, 1))
			if id < 9 {
				MustReceive(t, fast, 1)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a full subscriber")
	}
	// slow gets the 4 events its buffer held, then the end of its feed.
	if got := MustReceive(t, slow, 4); got[0] != 0 || got[3] != 3 {
		t.Fatalf("slow subscriber got %v; want [0 1 2 3]", got)
	}
	MustBeClosed(t, slow)
	if got := MustReceive(t, fast, 1); got[0] != 9 {
		t.Fatalf("fast subscriber got %v; want [9]", got)
	}
	if n := h.Len(); n != 1 {
		t.Fatalf("Len = %d; want 1 (the lagging subscription is gone)", n)
	}
}

func TestCloseEndsSubscription(t *testing.T) {
	h := realtime.NewHub(0)
	s := MustSubscribe(t, h, 1)
	s.Close()
	s.Close() // idempotent
	MustBeClosed(t, s)
	h.Publish(event(1, 1))
	if n := h.Len(); n != 0 {
		t.Fatalf("Len = %d; want 0", n)
	}
}

func TestContextEndsSubscription(t *testing.T) {
	h := realtime.NewHub(0)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := h.Subscribe(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	MustBeClosed(t, s)
	if n := h.Len(); n != 0 {
		t.Fatalf("Len = %d; want 0", n)
	}
	if _, err := h.Subscribe(ctx, 1); err == nil {
		t.Fatal("Subscribe with a cancelled context succeeded")
	}
}

func TestHubCloseEndsAll(t *testing.T) {
	h := realtime.NewHub(0)
	subs := []glasshouse.Subscription{MustSubscribe(t, h, 1), MustSubscribe(t, h, 1), MustSubscribe(t, h, 2)}
	h.Close()
	for _, s := range subs {
		MustBeClosed(t, s)
		s.Close() // still safe
	}
	_, err := h.Subscribe(context.Background(), 1)
	if code := glasshouse.ErrorCode(err); code != glasshouse.EUNAVAILABLE {
		t.Fatalf("Subscribe after Close: %v; want code %s", err, glasshouse.EUNAVAILABLE)
	}
}

// TestConcurrentUse runs publishers, subscribers and closers at once; run it
// with -race.
func TestConcurrentUse(t *testing.T) {
	h := realtime.NewHub(8)
	var wg sync.WaitGroup
	for p := range int64(4) {
		wg.Go(func() {
			for i := range int64(500) {
				h.Publish(event(p*1000+i, i%5, (i+1)%5))
			}
		})
	}
	for m := range int64(5) {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				s, err := h.Subscribe(ctx, m)
				if err != nil {
					t.Error(err)
					cancel()
					return
				}
				for range 3 {
					select {
					case <-s.C():
					default:
					}
				}
				if m%2 == 0 {
					s.Close()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for h.Len() != 0 { // cancelled contexts close their subscriptions asynchronously
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d; want 0 after every context ended", h.Len())
		}
		time.Sleep(time.Millisecond)
	}
	h.Close()
}

// BenchmarkPublish measures one event to a full group of 256 members, each
// with one open stream.
func BenchmarkPublish(b *testing.B) {
	h := realtime.NewHub(0)
	recipients := make([]int64, glasshouse.MaxGroupMembers)
	subs := make([]glasshouse.Subscription, len(recipients))
	for i := range recipients {
		recipients[i] = int64(i)
		subs[i] = MustSubscribe(b, h, int64(i))
	}
	ev := glasshouse.Event{Message: &glasshouse.Message{ID: 1}, Recipients: recipients}
	n := 0
	for b.Loop() {
		h.Publish(ev)
		if n++; n == realtime.DefaultBuffer {
			b.StopTimer()
			for _, s := range subs {
				for range n {
					<-s.C()
				}
			}
			n = 0
			b.StartTimer()
		}
	}
	if h.Len() != len(subs) {
		b.Fatalf("%d subscriptions left; want %d", h.Len(), len(subs))
	}
}

// watched is a Feed and the number of times it notified.
type watched struct {
	*realtime.Feed
	notified chan struct{}
}

func MustWatch(tb testing.TB, h *realtime.Hub, memberID int64) *watched {
	tb.Helper()
	w := &watched{notified: make(chan struct{}, 1000)}
	f, err := h.Watch(memberID, func() { w.notified <- struct{}{} })
	if err != nil {
		tb.Fatalf("Watch(%d): %v", memberID, err)
	}
	tb.Cleanup(f.Close)
	w.Feed = f
	return w
}

// drain takes every waiting event's id, and whether the feed is open.
func (w *watched) drain() ([]int64, bool) {
	var ids []int64
	for {
		ev, ok, open := w.Next()
		if !ok {
			return ids, open
		}
		ids = append(ids, ev.Message.ID)
	}
}

func TestWatchNotifiesWhenEventsWait(t *testing.T) {
	h := realtime.NewHub(4)
	alice, bob := MustWatch(t, h, 1), MustWatch(t, h, 2)
	sub := MustSubscribe(t, h, 1) // channels and feeds side by side

	h.Publish(event(10, 1, 2))
	h.Publish(event(11, 1))
	if n := len(alice.notified); n != 1 {
		t.Fatalf("notified %d times for two events before any was taken; want once", n)
	}
	if ids, open := alice.drain(); fmt.Sprint(ids) != "[10 11]" || !open {
		t.Fatalf("alice took %v (open=%v); want [10 11], open", ids, open)
	}
	if ids, open := bob.drain(); fmt.Sprint(ids) != "[10]" || !open {
		t.Fatalf("bob took %v (open=%v); want [10], open", ids, open)
	}
	if got := MustReceive(t, sub, 2); fmt.Sprint(got) != "[10 11]" {
		t.Fatalf("channel subscription got %v", got)
	}
	h.Publish(event(12, 1))
	if n := len(alice.notified); n != 2 {
		t.Fatalf("notified %d times in all; want again once the feed was drained", n)
	}
	if ids, _ := alice.drain(); fmt.Sprint(ids) != "[12]" {
		t.Fatalf("alice took %v; want [12]", ids)
	}
	MustReceive(t, sub, 1)

	// A lagging feed ends: what it holds can still be taken, then it says so.
	for id := range int64(6) {
		h.Publish(event(20+id, 1))
	}
	if ids, open := alice.drain(); fmt.Sprint(ids) != "[20 21 22 23]" || open {
		t.Fatalf("lagging feed gave %v (open=%v); want its 4 events, then closed", ids, open)
	}
	if ids, open := bob.drain(); len(ids) != 0 || !open {
		t.Fatalf("bob's feed: %v, open=%v; want untouched", ids, open)
	}
	MustBeClosed(t, sub) // the channel lagged too
	if n := h.Len(); n != 1 {
		t.Fatalf("%d subscriptions left; want bob's feed", n)
	}

	// Closing the hub ends the rest, and notifies.
	before := len(bob.notified)
	h.Close()
	if len(bob.notified) != before+1 {
		t.Fatal("closing the hub did not notify")
	}
	if _, open := bob.drain(); open {
		t.Fatal("feed open after the hub closed")
	}
	if _, err := h.Watch(3, func() {}); glasshouse.ErrorCode(err) != glasshouse.EUNAVAILABLE {
		t.Fatalf("Watch on a closed hub: %v; want EUNAVAILABLE", err)
	}
}

func TestWatchClose(t *testing.T) {
	h := realtime.NewHub(0)
	a, b, c := MustWatch(t, h, 1), MustWatch(t, h, 1), MustWatch(t, h, 1)
	b.Close()
	b.Close()
	if n := h.Len(); n != 2 {
		t.Fatalf("%d subscriptions after one of three closed", n)
	}
	h.Publish(event(1, 1))
	for name, w := range map[string]*watched{"a": a, "c": c} {
		if ids, _ := w.drain(); fmt.Sprint(ids) != "[1]" {
			t.Errorf("%s took %v; want [1]", name, ids)
		}
	}
	if ids, open := b.drain(); len(ids) != 0 || open || len(b.notified) != 0 {
		t.Fatalf("closed feed: %v, open=%v, %d notifications; want nothing, closed, none", ids, open, len(b.notified))
	}
	a.Close()
	c.Close()
	if n := h.Len(); n != 0 {
		t.Fatalf("%d subscriptions after all closed", n)
	}
}

// TestWatchSlowReaderKeepsOrder: a reader that always lags a little behind
// never loses or reorders an event, and the queue does not grow.
func TestWatchSlowReaderKeepsOrder(t *testing.T) {
	h := realtime.NewHub(8)
	w := MustWatch(t, h, 1)
	var got []int64
	next := int64(0)
	for round := range 1000 {
		for range 3 {
			h.Publish(event(next, 1))
			next++
		}
		for range 2 {
			ev, ok, _ := w.Next()
			if !ok {
				t.Fatalf("nothing waiting after %d events", len(got))
			}
			got = append(got, ev.Message.ID)
		}
		if round%4 == 3 {
			rest, open := w.drain()
			if !open {
				t.Fatalf("feed ended after %d events", len(got))
			}
			got = append(got, rest...)
		}
	}
	for i, id := range got {
		if id != int64(i) {
			t.Fatalf("event %d has id %d", i, id)
		}
	}
}
