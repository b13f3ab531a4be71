-- Tokens by the partner and the subject it knows the member by: an ID token
-- sent to the Graph API as a bearer names only those two, and its refusal
-- is recorded for the member they name.
CREATE INDEX tokens_client_subject ON tokens (client_id, subject);
