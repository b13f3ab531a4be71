-- Operators, and a partner's view of its own accesses. Times are unix
-- microseconds (UTC).

-- Members who may use the operator pages (/admin). Named on the server's
-- machine with `glasshouse operator add HANDLE`, never through the web.
CREATE TABLE operators (
	member_id  BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
	granted_at BIGINT NOT NULL
);

-- A partner's accesses by time: its usage and receipts in the partner
-- portal, and its total on the consent screen.
CREATE INDEX access_records_partner_at ON access_records (partner_id, at);
