package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// BenchmarkMessagesPage measures reading a full page of a direct
// conversation's history (50 messages, from both members, each opened from
// its sealed body), from 4 concurrent readers:
//
//	go test -run XXX -bench MessagesPage ./sqlstore/
func BenchmarkMessagesPage(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, sqlstore.Config{})
			ctx := context.Background()
			alice, bob := storetest.MustMember(b, s, "alice"), storetest.MustMember(b, s, "bob")
			req, err := s.RequestFriend(ctx, alice.ID, bob.Handle)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.AcceptFriendRequest(ctx, bob.ID, req.ID); err != nil {
				b.Fatal(err)
			}
			c, _, err := s.CreateDirect(ctx, alice.ID, bob.Handle)
			if err != nil {
				b.Fatal(err)
			}
			for i := range glasshouse.DefaultPageSize {
				from := []*glasshouse.Member{alice, bob}[i%2]
				if _, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: from.ID,
					Text: fmt.Sprintf("message %d of a realistic length, about sixty bytes or so.", i)}); err != nil {
					b.Fatal(err)
				}
			}
			q := glasshouse.MessageQuery{ConversationID: c.ID, MemberID: bob.ID}
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					page, err := s.Messages(ctx, q)
					if err != nil || len(page.Messages) != glasshouse.DefaultPageSize {
						b.Errorf("Messages = %d messages, %v", len(page.Messages), err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
		})
	}
}
