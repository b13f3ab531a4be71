-- Every change of a partner's agreement that the public log holds: the
-- approval of a version, a suspension, a resumption, an expiry. Each row's
-- entry is written to access_outbox in the same transaction as the change,
-- and log_index is set once the feeder has appended it. What the public
-- partner directory shows of an agreement's history comes from here.
CREATE TABLE agreement_events (
	seq          INTEGER PRIMARY KEY,
	event_id     BLOB NOT NULL UNIQUE,
	partner_id   INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	version      INTEGER NOT NULL,
	action       TEXT NOT NULL CHECK (action IN ('approved', 'suspended', 'resumed', 'expired')),
	effective_at INTEGER NOT NULL,
	log_index    INTEGER UNIQUE
);
CREATE INDEX agreement_events_partner ON agreement_events (partner_id, seq);
