// Package export owns "download my data": the zip a member receives under
// the GDPR's right of access (Art. 15) and right to data portability
// (Art. 20). It holds the member's own profile, friends, friend requests and
// blocks, every message they can see in their conversations, their
// connected apps, and every partner access that spoke for them with its
// transparency-log entry and inclusion proof, as JSON for machines and as
// one self-contained HTML page for people.
//
// An Exporter reads the store (and the log, when given) and streams the zip
// to an io.Writer: it never holds more than one page of messages or access
// events at a time. It shows other members only as the exporting member
// sees them (glasshouse.Member.SeenBy, applied by the store), and nothing of
// their conversations, grants or access events.
//
// The zip's layout and the way to check its proofs offline are in the
// README.txt it contains (templates/README.txt) and in docs/audit.md.
package export
