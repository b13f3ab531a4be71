-- The partner platform: partners and their versioned agreements, members'
-- grants (consent), and the authorization server's requests, tokens and
-- secrets. Times are unix microseconds (UTC), 0 where the domain has a zero
-- time. Scope lists that are queried are tables; the scopes of a token or an
-- auth request, which never change, are one space-separated text.

CREATE TABLE partners (
	id          INTEGER PRIMARY KEY,
	client_id   TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL,
	secret_hash BLOB NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'suspended')),
	created_at  INTEGER NOT NULL
);

-- position keeps the redirect URIs in the order they were registered.
CREATE TABLE partner_redirect_uris (
	partner_id INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	uri        TEXT NOT NULL,
	PRIMARY KEY (partner_id, position)
) WITHOUT ROWID;

CREATE TABLE agreements (
	partner_id           INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	version              INTEGER NOT NULL CHECK (version > 0),
	purpose              TEXT NOT NULL,
	retention_days       INTEGER NOT NULL,
	expires_at           INTEGER NOT NULL,
	security_assessed_at INTEGER NOT NULL DEFAULT 0,
	approved_at          INTEGER NOT NULL DEFAULT 0,
	created_at           INTEGER NOT NULL,
	PRIMARY KEY (partner_id, version)
) WITHOUT ROWID;

CREATE TABLE agreement_scopes (
	partner_id INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	scope      TEXT NOT NULL,
	PRIMARY KEY (partner_id, version, scope),
	FOREIGN KEY (partner_id, version) REFERENCES agreements (partner_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- A member has at most one grant per partner. relay_email is NULL until the
-- member has one; last_access_at is 0 until the partner first used it.
CREATE TABLE grants (
	id                INTEGER PRIMARY KEY,
	member_id         INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	partner_id        INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	agreement_version INTEGER NOT NULL,
	real_email        BOOLEAN NOT NULL DEFAULT FALSE,
	relay_email       TEXT UNIQUE,
	relay_enabled     BOOLEAN NOT NULL DEFAULT TRUE,
	granted_at        INTEGER NOT NULL,
	confirmed_at      INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	last_access_at    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (member_id, partner_id)
);

CREATE TABLE grant_scopes (
	member_id  INTEGER NOT NULL,
	partner_id INTEGER NOT NULL,
	scope      TEXT NOT NULL,
	PRIMARY KEY (member_id, partner_id, scope),
	FOREIGN KEY (member_id, partner_id) REFERENCES grants (member_id, partner_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The conversations a member picked for messages.read.
CREATE TABLE grant_conversations (
	member_id       INTEGER NOT NULL,
	partner_id      INTEGER NOT NULL,
	conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	PRIMARY KEY (member_id, partner_id, conversation_id),
	FOREIGN KEY (member_id, partner_id) REFERENCES grants (member_id, partner_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- An authorization request, kept after its code was used (done, with
-- code_used_at set) so that a replayed code is recognised. member_id is
-- NULL until the member logged in; max_age NULL when not asked.
CREATE TABLE auth_requests (
	id                    TEXT PRIMARY KEY,
	client_id             TEXT NOT NULL,
	redirect_uri          TEXT NOT NULL,
	state                 TEXT NOT NULL,
	nonce                 TEXT NOT NULL,
	response_type         TEXT NOT NULL,
	response_mode         TEXT NOT NULL,
	code_challenge        TEXT NOT NULL,
	code_challenge_method TEXT NOT NULL,
	requested_scopes      TEXT NOT NULL,
	prompt                TEXT NOT NULL,
	max_age               INTEGER,
	login_hint            TEXT NOT NULL,
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	member_id             INTEGER REFERENCES members (id) ON DELETE CASCADE,
	auth_time             INTEGER NOT NULL DEFAULT 0,
	granted_scopes        TEXT NOT NULL DEFAULT '',
	done                  BOOLEAN NOT NULL DEFAULT FALSE,
	code_hash             BLOB UNIQUE,
	code_expires_at       INTEGER NOT NULL DEFAULT 0,
	code_used_at          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Access and refresh tokens. refresh_hash is the hash of a refresh
-- token's value (NULL for access tokens). Tokens of one authorization and
-- its refreshes share family_id.
CREATE TABLE tokens (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
	family_id       TEXT NOT NULL,
	auth_request_id TEXT NOT NULL,
	partner_id      INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	client_id       TEXT NOT NULL,
	member_id       INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	subject         TEXT NOT NULL,
	scopes          TEXT NOT NULL,
	refresh_hash    BLOB UNIQUE,
	auth_time       INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	revoked_at      INTEGER NOT NULL DEFAULT 0,
	used_at         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX tokens_member_partner ON tokens (member_id, partner_id);
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_auth_request ON tokens (auth_request_id);

-- Server secrets (signing and encryption keys), created once per cluster.
CREATE TABLE secrets (
	name       TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
