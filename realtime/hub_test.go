package realtime_test

import (
	"context"
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
