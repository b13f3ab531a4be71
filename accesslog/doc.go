// Package accesslog owns glasshouse's accountability log: the canonical
// byte encodings of its two kinds of entry (an access, and a change of a
// partner's agreement, with the terms document its hash commits to), the
// member tags that only a member can link to themselves, the receipts
// every Graph API response carries, the feeder that moves committed
// entries from the store's outbox into a Tessera log exactly once (and has
// witnesses cosign its checkpoints), the HTTP handler that serves the log
// in the C2SP tlog-checkpoint and tlog-tiles forms, inclusion and
// consistency proofs, and the auditor's side: the verifier (Verify), the
// incremental monitor (Follower), witness policies, and the check of every
// granted access against the agreements the log holds (Compliance).
//
// The format is documented in docs/log-format.md. The pieces fit together
// like this:
//
//	store transaction:  tag := DeriveMemberKey(master, member secret).Tag(counter)
//	                    b, _ := entry.MarshalBinary()      // outbox row (event id, b)
//	                    receipt, _ := SignReceipt(signer, b) // Glasshouse-Receipt header
//	one feeder:         Feeder.Run drains the Outbox into Tessera (POSIX)
//	every node:         Handler serves /log/... from the log directory
//	auditors:           Verify fetches, checks and counts the whole log
//
// Recorder does the store-transaction and receipt steps for the Graph API.
// The package reaches the store only through small interfaces of its own:
// Recorder through RecorderStore, MemberView through PartnerNames, and the
// feeder and the handler through Outbox and EventIndex, which StoreOutbox
// provides from an OutboxStore.
package accesslog
