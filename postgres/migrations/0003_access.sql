-- The accountability log's side of the store: each member's access
-- counter, the access records, and the outbox of log entries waiting for
-- the feeder. Times are unix microseconds (UTC).

-- last_counter is the member's last access counter handed out; counters
-- start at 1 and are spent only by a committed access record.
CREATE TABLE access_counters (
	member_id    BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
	last_counter BIGINT NOT NULL
);

-- One row per Graph API request that carried a verified token. Keyed by
-- member, so that the table can be sharded by member. scopes is
-- space-separated. log_index is NULL until the feeder integrated the entry.
CREATE TABLE access_records (
	member_id         BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	counter           BIGINT NOT NULL CHECK (counter > 0),
	event_id          BYTEA NOT NULL UNIQUE,
	partner_id        BIGINT NOT NULL,
	client_id         TEXT NOT NULL,
	agreement_version BIGINT NOT NULL,
	endpoint          TEXT NOT NULL,
	scopes            TEXT NOT NULL,
	granted           BOOLEAN NOT NULL,
	reason            TEXT NOT NULL,
	items             BIGINT NOT NULL,
	at                BIGINT NOT NULL,
	log_index         BIGINT UNIQUE,
	PRIMARY KEY (member_id, counter)
);

-- Log entries committed with their access record, in commit order (seq),
-- until the feeder has them in the log. No foreign key: an entry must
-- reach the log even if its member is deleted meanwhile.
CREATE TABLE access_outbox (
	seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id BYTEA NOT NULL UNIQUE,
	entry    BYTEA NOT NULL
);

-- How much of the log the store knows about: one more than the highest
-- log index ever recorded, in its one row. Kept apart from access_records,
-- whose rows go with their member.
CREATE TABLE access_log (
	id   BIGINT PRIMARY KEY CHECK (id = 1),
	size BIGINT NOT NULL
);
INSERT INTO access_log (id, size) VALUES (1, 0);
