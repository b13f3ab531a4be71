-- The access records of deleted members, without the member. A deleted
-- member's log entries stay in the public log, unlinkable; their records
-- stay here, linked to no one, so that a partner's usage (its totals on
-- the consent screen, its usage and receipts at /developers) keeps counting
-- what the log keeps. Same columns as access_records, less member_id and
-- counter.
CREATE TABLE erased_access_records (
	event_id          BYTEA NOT NULL PRIMARY KEY,
	partner_id        BIGINT NOT NULL,
	client_id         TEXT NOT NULL,
	agreement_version BIGINT NOT NULL,
	endpoint          TEXT NOT NULL,
	scopes            TEXT NOT NULL,
	granted           BOOLEAN NOT NULL,
	reason            TEXT NOT NULL,
	items             BIGINT NOT NULL,
	at                BIGINT NOT NULL,
	log_index         BIGINT UNIQUE
);
CREATE INDEX erased_access_records_partner_at ON erased_access_records (partner_id, at);

-- Every access record, of members and of deleted members alike: what the
-- partners' usage counts.
CREATE VIEW partner_access_records AS
	SELECT event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at, log_index
	FROM access_records
	UNION ALL
	SELECT event_id, partner_id, client_id, agreement_version, endpoint, scopes, granted, reason, items, at, log_index
	FROM erased_access_records;
