-- Per-member secrets and account deletion. Times are unix microseconds (UTC).

-- A member's random secret, wrapped (AES-256-GCM) under the store's
-- key-encryption key with the member id as additional data: a version byte,
-- the nonce, then the sealed secret. Account deletion deletes the row, and
-- with it every key derived from the secret. A member from before this
-- migration gets a row on first use.
CREATE TABLE member_keys (
	member_id  BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
	wrapped    BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);

-- A deleted member's row stays as an anonymous tombstone (0 while the
-- member exists), so that their id is never handed out again and the
-- messages they sent keep their sender.
ALTER TABLE members ADD COLUMN deleted_at BIGINT NOT NULL DEFAULT 0;

-- body is the message text sealed under a key derived from the sender's
-- secret: a version byte, the nonce, then the sealed text; text is then ''.
-- Messages stored before this migration keep their text, and body NULL,
-- until their sender's account is deleted, when the text is blanked: the
-- index finds them by sender, and holds no encrypted message.
ALTER TABLE messages ADD COLUMN body BYTEA;
CREATE INDEX messages_plaintext_sender ON messages (sender_id) WHERE body IS NULL;

-- Account deletion removes the blocks of others on the member too.
CREATE INDEX blocks_blocked ON blocks (blocked_id);
