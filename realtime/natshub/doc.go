// Package natshub is the glasshouse.Hub of a node that shares its database
// with other nodes: every node publishes the events it commits to NATS
// (core NATS, no JetStream), and delivers to its own open streams what any
// node committed, in commit order, each event once. The database stays the
// record: NATS only makes delivery fast, and whatever it loses is read back
// from the database.
//
// # What travels
//
// One NATS message per committed message, on one subject shared by the
// deployment (DefaultSubject, "glasshouse.events"): JSON
// {"v":1,"message":{…},"recipients":[…]}, the glasshouse.Event the store
// published, message text included. NATS therefore sees message text in
// transit (never at rest: core NATS keeps nothing); run it on a private
// network, or with tls:// and credentials in the URL. A node does not
// receive its own messages back (NoEcho): it delivers them directly.
//
// # Order and gaps
//
// Message ids grow in commit order across nodes without gaps (the stores
// serialize their write transactions and hand out ids from one counter;
// see package sqlstore), so a node knows which event comes next: the one
// after the last id it delivered. It delivers that one as soon as it has
// it; an event that arrives ahead of a missing one is held. If the missing
// one has not come through NATS within Config.Grace (events of two nodes
// may cross on the way), or at once when NATS reconnects or reports that it
// dropped events for a slow consumer, the node reads every event after its
// last id from the database (sqlstore.Store.EventsAfter), delivers them
// with the held ones in id order, and goes on from there; what arrives
// later through NATS for ids it already delivered is dropped. A node also
// reads the newest committed id every Config.Poll, so an event that NATS
// never brought (a publisher cut off, a publish refused) is noticed as a
// gap even when nothing follows it.
//
// While NATS is down each node still delivers its own events at once and
// the others' within about Poll plus Grace, from the database. A
// subscription's buffer and what happens when a stream falls behind are
// those of package realtime: the stream ends and the client resumes from
// its cursor, which the database serves.
package natshub
