package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// BenchmarkSendMessageParallel measures durable sends from 32 concurrent
// senders (SetParallelism(16) on the 2-core target machine), each in a
// direct conversation of its own, with a client transaction id as apps send
// them. msgs/s is the figure to watch:
//
//	go test -run XXX -bench SendMessageParallel -benchtime 30000x ./sqlstore/
func BenchmarkSendMessageParallel(b *testing.B) {
	const senders = 32
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, sqlstore.Config{})
			ctx := context.Background()
			convs := make([]*glasshouse.Conversation, senders)
			members := make([]*glasshouse.Member, senders)
			peer := storetest.MustMember(b, s, "peer")
			for i := range convs {
				members[i] = storetest.MustMember(b, s, fmt.Sprintf("sender%02d", i))
				req, err := s.RequestFriend(ctx, members[i].ID, peer.Handle)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.AcceptFriendRequest(ctx, peer.ID, req.ID); err != nil {
					b.Fatal(err)
				}
				if convs[i], _, err = s.CreateDirect(ctx, members[i].ID, peer.Handle); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism((senders + 1) / 2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % senders
				for k := 0; pb.Next(); k++ {
					_, _, err := s.SendMessage(ctx, glasshouse.NewMessage{
						ConversationID: convs[i].ID,
						SenderID:       members[i].ID,
						Text:           "a message of a realistic length, about sixty bytes or so.",
						ClientTxnID:    fmt.Sprintf("txn-%d", k),
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
