-- Members, sessions, the friend graph, conversations and messages.
-- Times are unix microseconds (UTC). Tables that belong to a member are
-- keyed by member id first, so that they can be sharded by member.

CREATE TABLE members (
	id               INTEGER PRIMARY KEY,
	handle           TEXT NOT NULL UNIQUE,
	display_name     TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL,
	phone            TEXT NOT NULL DEFAULT '',
	picture_url      TEXT NOT NULL DEFAULT '',
	vis_display_name TEXT NOT NULL,
	vis_email        TEXT NOT NULL,
	vis_phone        TEXT NOT NULL,
	vis_picture_url  TEXT NOT NULL,
	password_hash    TEXT NOT NULL,
	created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX members_email ON members (lower(email));

CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE friend_requests (
	id         INTEGER PRIMARY KEY,
	from_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	to_id      INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	UNIQUE (from_id, to_id)
);
CREATE INDEX friend_requests_to ON friend_requests (to_id);

-- A friendship is two rows, one for each member.
CREATE TABLE friendships (
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	friend_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (member_id, friend_id)
) WITHOUT ROWID;

CREATE TABLE blocks (
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	blocked_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (member_id, blocked_id)
) WITHOUT ROWID;

-- direct_low and direct_high name the two members of a direct
-- conversation, so that each pair has at most one.
CREATE TABLE conversations (
	id               INTEGER PRIMARY KEY,
	kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
	title            TEXT NOT NULL DEFAULT '',
	creator_id       INTEGER NOT NULL REFERENCES members (id),
	direct_low       INTEGER,
	direct_high      INTEGER,
	member_count     INTEGER NOT NULL CHECK (member_count >= 0),
	members_version  INTEGER NOT NULL DEFAULT 0, -- random, new on every membership change (recipient cache key)
	last_seq         INTEGER NOT NULL DEFAULT 0,
	last_activity_at INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	UNIQUE (direct_low, direct_high)
);

CREATE TABLE conversation_members (
	member_id       INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	read_seq        INTEGER NOT NULL DEFAULT 0,
	joined_at       INTEGER NOT NULL,
	PRIMARY KEY (member_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX conversation_members_conversation ON conversation_members (conversation_id, member_id);

-- id is the global position from counters.message; seq numbers one
-- conversation's messages. A client transaction id is NULL when absent.
CREATE TABLE messages (
	id              INTEGER PRIMARY KEY,
	conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	sender_id       INTEGER NOT NULL REFERENCES members (id),
	text            TEXT NOT NULL,
	client_txn_id   TEXT,
	via_partner     TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	UNIQUE (conversation_id, seq),
	UNIQUE (conversation_id, sender_id, client_txn_id)
);

-- Messages deleted for one member only.
CREATE TABLE hidden_messages (
	member_id       INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	conversation_id INTEGER NOT NULL,
	seq             INTEGER NOT NULL,
	PRIMARY KEY (member_id, conversation_id, seq),
	FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('message', 0);
