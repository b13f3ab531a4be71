-- A partner's portal sessions are signed cookies that the server does not
-- store; each one is signed under the partner's portal_epoch, and signing
-- out moves the epoch on, which ends every session signed before.
ALTER TABLE partners ADD COLUMN portal_epoch BIGINT NOT NULL DEFAULT 0;
