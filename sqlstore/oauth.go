package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.OAuthStore = (*Store)(nil)

func errNoAuthRequest() error {
	return glasshouse.Errorf(glasshouse.ENOTFOUND, "The authorization request is unknown or has expired.")
}

// authRequestColumns are the columns scanAuthRequest reads.
const authRequestColumns = `id, client_id, redirect_uri, state, nonce, response_type, response_mode,
	code_challenge, code_challenge_method, requested_scopes, prompt, max_age, login_hint, created_at, expires_at,
	member_id, auth_time, granted_scopes, done, code_hash, code_expires_at, code_used_at`

func scanAuthRequest(row scanner) (*glasshouse.AuthRequest, error) {
	var r glasshouse.AuthRequest
	var requested, prompt, granted string
	var maxAge, memberID sql.NullInt64
	var created, expires, authTime, codeExpires, codeUsed int64
	if err := row.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &r.ResponseType, &r.ResponseMode,
		&r.CodeChallenge, &r.CodeChallengeMethod, &requested, &prompt, &maxAge, &r.LoginHint, &created, &expires,
		&memberID, &authTime, &granted, &r.Done, &r.CodeHash, &codeExpires, &codeUsed); err != nil {
		return nil, err
	}
	r.RequestedScopes, r.Prompt, r.GrantedScopes = splitList(requested), splitList(prompt), splitList(granted)
	if maxAge.Valid {
		d := time.Duration(maxAge.Int64) * time.Microsecond
		r.MaxAge = &d
	}
	r.MemberID = memberID.Int64
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	r.AuthTime, r.CodeExpiresAt, r.CodeUsedAt = fromOptMicros(authTime), fromOptMicros(codeExpires), fromOptMicros(codeUsed)
	return &r, nil
}

// CreateAuthRequest stores the request part of r (what the partner asked).
// A zero CreatedAt becomes now and a zero ExpiresAt CreatedAt plus
// glasshouse.AuthRequestLifetime; both are set in r. EINVALID without an id
// or client id; ECONFLICT if the id is taken.
func (s *Store) CreateAuthRequest(ctx context.Context, r *glasshouse.AuthRequest) error {
	if r.ID == "" || r.ClientID == "" {
		return fmt.Errorf("create auth request: %w", glasshouse.Errorf(glasshouse.EINVALID, "An authorization request needs an id and a client id."))
	}
	created, expires := r.CreatedAt, r.ExpiresAt
	if created.IsZero() {
		created = s.now()
	}
	if expires.IsZero() {
		expires = created.Add(glasshouse.AuthRequestLifetime)
	}
	var maxAge sql.NullInt64
	if r.MaxAge != nil {
		maxAge = sql.NullInt64{Int64: r.MaxAge.Microseconds(), Valid: true}
	}
	err := s.write(ctx, func(t *tx) error {
		_, err := t.exec(`INSERT INTO auth_requests (id, client_id, redirect_uri, state, nonce, response_type, response_mode,
			code_challenge, code_challenge_method, requested_scopes, prompt, max_age, login_hint, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.ClientID, r.RedirectURI, r.State, r.Nonce, r.ResponseType, r.ResponseMode,
			r.CodeChallenge, r.CodeChallengeMethod, strings.Join(r.RequestedScopes, " "), strings.Join(r.Prompt, " "),
			maxAge, r.LoginHint, micros(created), micros(expires))
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The authorization request id is taken.")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create auth request: %w", err)
	}
	r.CreatedAt, r.ExpiresAt = fromMicros(micros(created)), fromMicros(micros(expires))
	return nil
}

// AuthRequest returns a request by id; ENOTFOUND if absent or expired at
// now.
func (s *Store) AuthRequest(ctx context.Context, id string, now time.Time) (*glasshouse.AuthRequest, error) {
	r, err := scanAuthRequest(s.read(ctx).queryRow(`SELECT `+authRequestColumns+` FROM auth_requests
		WHERE id = ? AND expires_at > ?`, id, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("auth request: %w", errNoAuthRequest())
	} else if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	return r, nil
}

// CompleteAuthRequest records that memberID logged in at authTime and
// granted the scopes granted, and marks the request done. ENOTFOUND if the
// request or the member is absent; ECONFLICT if a code was already issued.
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, memberID int64, authTime time.Time, granted []string) error {
	err := s.write(ctx, func(t *tx) error {
		var issued bool
		err := t.queryRow(`SELECT code_hash IS NOT NULL FROM auth_requests WHERE id = ?`, id).Scan(&issued)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoAuthRequest()
		} else if err != nil {
			return err
		} else if issued {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "A code was already issued for this authorization request.")
		}
		if ok, err := t.exists(`SELECT EXISTS(SELECT 1 FROM members WHERE id = ? AND deleted_at = 0)`, memberID); err != nil {
			return err
		} else if !ok {
			return errNoMember()
		}
		_, err = t.exec(`UPDATE auth_requests SET member_id = ?, auth_time = ?, granted_scopes = ?, done = TRUE WHERE id = ?`,
			memberID, optMicros(authTime), joinScopes(granted), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete auth request: %w", err)
	}
	return nil
}

// SaveAuthCode stores the hash of the request's one code, valid until
// expiresAt. ENOTFOUND if the request is absent; ECONFLICT if it is not
// done yet, if a code was already issued for it, or if codeHash is another
// request's; EINVALID for an empty hash.
func (s *Store) SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error {
	if len(codeHash) == 0 {
		return fmt.Errorf("save auth code: %w", glasshouse.Errorf(glasshouse.EINVALID, "The code hash is empty."))
	}
	err := s.write(ctx, func(t *tx) error {
		var issued, done bool
		err := t.queryRow(`SELECT code_hash IS NOT NULL, done FROM auth_requests WHERE id = ?`, id).Scan(&issued, &done)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errNoAuthRequest()
		case err != nil:
			return err
		case issued:
			return glasshouse.Errorf(glasshouse.ECONFLICT, "A code was already issued for this authorization request.")
		case !done:
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The authorization request is not complete: no member has consented yet.")
		}
		_, err = t.exec(`UPDATE auth_requests SET code_hash = ?, code_expires_at = ? WHERE id = ?`, codeHash, micros(expiresAt), id)
		if s.dialect.IsUniqueViolation(err) {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "The code is already in use.")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("save auth code: %w", err)
	}
	return nil
}

// AuthRequestByCode returns the request of a code, used or not, without
// using it; ENOTFOUND if the code is unknown, or unused and expired.
func (s *Store) AuthRequestByCode(ctx context.Context, codeHash []byte, now time.Time) (*glasshouse.AuthRequest, error) {
	r, err := scanAuthRequest(s.read(ctx).queryRow(`SELECT `+authRequestColumns+` FROM auth_requests
		WHERE code_hash = ? AND (code_used_at <> 0 OR code_expires_at > ?)`, codeHash, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("auth request by code: %w", glasshouse.Errorf(glasshouse.ENOTFOUND, "The code is unknown or has expired."))
	} else if err != nil {
		return nil, fmt.Errorf("auth request by code: %w", err)
	}
	return r, nil
}

// ConsumeAuthCode marks the code whose hash is codeHash used at now and
// returns its request, in one statement. A code used before revokes every
// token issued from its request, and every token of their families, and
// returns ECONFLICT; an expired or unknown code returns ENOTFOUND.
func (s *Store) ConsumeAuthCode(ctx context.Context, codeHash []byte, now time.Time) (*glasshouse.AuthRequest, error) {
	var r *glasshouse.AuthRequest
	replayed := false
	err := s.write(ctx, func(t *tx) error {
		var err error
		r, err = scanAuthRequest(t.queryRow(`UPDATE auth_requests SET code_used_at = ?
			WHERE code_hash = ? AND code_used_at = 0 AND code_expires_at > ?
			RETURNING `+authRequestColumns, micros(now), codeHash, micros(now)))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var id string
		var used int64
		err = t.queryRow(`SELECT id, code_used_at FROM auth_requests WHERE code_hash = ?`, codeHash).Scan(&id, &used)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && used == 0) {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "The code is unknown or has expired.")
		} else if err != nil {
			return err
		}
		// A replay: the revocation commits, and the caller gets ECONFLICT.
		replayed = true
		_, err = t.exec(`UPDATE tokens SET revoked_at = ? WHERE revoked_at = 0
			AND family_id IN (SELECT family_id FROM tokens WHERE auth_request_id = ?)`, micros(now), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consume auth code: %w", err)
	} else if replayed {
		return nil, fmt.Errorf("consume auth code: %w", glasshouse.Errorf(glasshouse.ECONFLICT,
			"The code was already used; the tokens issued with it are revoked."))
	}
	return r, nil
}

// tokenColumns are the columns scanToken reads, from tokens t.
const tokenColumns = `t.id, t.kind, t.family_id, t.auth_request_id, t.partner_id, t.client_id, t.member_id, t.subject, t.scopes,
	t.auth_time, t.created_at, t.expires_at, t.revoked_at, t.used_at, t.refresh_hash`

// scanToken reads tokenColumns, then extra.
func scanToken(row scanner, extra ...any) (*glasshouse.Token, error) {
	var tok glasshouse.Token
	var scopes string
	var authTime, created, expires, revoked, used int64
	dest := append([]any{&tok.ID, &tok.Kind, &tok.FamilyID, &tok.AuthRequestID, &tok.PartnerID, &tok.ClientID, &tok.MemberID,
		&tok.Subject, &scopes, &authTime, &created, &expires, &revoked, &used, &tok.SecretHash}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	tok.Scopes = splitList(scopes)
	tok.AuthTime, tok.CreatedAt, tok.ExpiresAt = fromOptMicros(authTime), fromMicros(created), fromMicros(expires)
	tok.RevokedAt, tok.UsedAt = fromOptMicros(revoked), fromOptMicros(used)
	return &tok, nil
}

// refreshHash is the hash that RefreshTokenByHash finds a refresh token by.
func refreshHash(tok *glasshouse.Token) []byte { return tok.SecretHash }

// checkTokens checks the tokens that CreateTokens gets.
func checkTokens(access, refresh *glasshouse.Token) error {
	switch {
	case access == nil || access.Kind != glasshouse.AccessToken:
		return glasshouse.Errorf(glasshouse.EINVALID, "An access token is required.")
	case refresh != nil && refresh.Kind != glasshouse.RefreshToken:
		return glasshouse.Errorf(glasshouse.EINVALID, "The refresh token is of kind %q.", refresh.Kind)
	case refresh != nil && refresh.FamilyID != access.FamilyID:
		return glasshouse.Errorf(glasshouse.EINVALID, "The access and refresh tokens must be of one family.")
	}
	for _, tok := range []*glasshouse.Token{access, refresh} {
		if tok != nil && (tok.ID == "" || tok.FamilyID == "") {
			return glasshouse.Errorf(glasshouse.EINVALID, "A token needs an id and a family.")
		}
	}
	return nil
}

// CreateTokens stores access and, unless nil, refresh; a zero CreatedAt
// becomes now (and is set in the token). When spentRefreshID is set, that
// refresh token is marked used at now in the same transaction, and the new
// tokens must be of its family (EINVALID otherwise); if it was already used,
// revoked or expired at now, the whole family is revoked instead, that
// revocation commits, and CreateTokens returns ECONFLICT. ENOTFOUND if the
// spent token is absent; ECONFLICT if a token id is taken.
func (s *Store) CreateTokens(ctx context.Context, access, refresh *glasshouse.Token, spentRefreshID string, now time.Time) error {
	if err := checkTokens(access, refresh); err != nil {
		return fmt.Errorf("create tokens: %w", err)
	}
	replayed := false
	err := s.write(ctx, func(t *tx) error {
		if spentRefreshID != "" {
			var family string
			err := t.queryRow(`SELECT family_id FROM tokens WHERE id = ? AND kind = ?`, spentRefreshID, glasshouse.RefreshToken).Scan(&family)
			if errors.Is(err, sql.ErrNoRows) {
				return glasshouse.Errorf(glasshouse.ENOTFOUND, "The refresh token is unknown.")
			} else if err != nil {
				return err
			}
			n, err := t.affected(`UPDATE tokens SET used_at = ? WHERE id = ? AND used_at = 0 AND revoked_at = 0 AND expires_at > ?`,
				micros(now), spentRefreshID, micros(now))
			if err != nil {
				return err
			} else if n == 0 {
				replayed = true
				return t.revokeFamily(family, now)
			}
			if access.FamilyID != family {
				return glasshouse.Errorf(glasshouse.EINVALID, "Rotated tokens must stay in the family of the refresh token they replace.")
			}
		}
		if err := t.insertToken(access, nil, now); err != nil {
			return err
		}
		if refresh != nil {
			return t.insertToken(refresh, refreshHash(refresh), now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create tokens: %w", err)
	} else if replayed {
		return fmt.Errorf("create tokens: %w", glasshouse.Errorf(glasshouse.ECONFLICT,
			"The refresh token was already used, revoked or expired; every token of its family is revoked."))
	}
	for _, tok := range []*glasshouse.Token{access, refresh} {
		if tok != nil && tok.CreatedAt.IsZero() {
			tok.CreatedAt = fromMicros(micros(now))
		}
	}
	return nil
}

// insertToken stores tok, with hash for a refresh token.
func (t *tx) insertToken(tok *glasshouse.Token, hash []byte, now time.Time) error {
	created := tok.CreatedAt
	if created.IsZero() {
		created = now
	}
	_, err := t.exec(`INSERT INTO tokens (id, kind, family_id, auth_request_id, partner_id, client_id, member_id, subject, scopes,
		refresh_hash, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tok.ID, tok.Kind, tok.FamilyID, tok.AuthRequestID, tok.PartnerID, tok.ClientID, tok.MemberID, tok.Subject,
		joinScopes(tok.Scopes), hash, optMicros(tok.AuthTime), micros(created), micros(tok.ExpiresAt))
	if t.s.dialect.IsUniqueViolation(err) {
		return glasshouse.Errorf(glasshouse.ECONFLICT, "The token id is taken.")
	}
	return err
}

// revokeFamily revokes every token of a family at now.
func (t *tx) revokeFamily(family string, now time.Time) error {
	_, err := t.exec(`UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0`, micros(now), family)
	return err
}

// Token returns a token by id; ENOTFOUND.
func (s *Store) Token(ctx context.Context, id string) (*glasshouse.Token, error) {
	tok, err := s.token(ctx, `t.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return tok, nil
}

// AccessByTokenID returns the token with id, its partner, the partner's
// newest approved agreement (nil if none) and the member's grant to the
// partner (nil if none), expired or not, in one query. ENOTFOUND if the
// token is absent.
func (s *Store) AccessByTokenID(ctx context.Context, id string) (*glasshouse.TokenAccess, error) {
	var p partnerRow
	var a agreementRow
	var g grantRow
	tok, err := scanToken(s.read(ctx).queryRow(`SELECT `+tokenColumns+`, `+partnerColumns+`, `+agreementColumns+`, `+grantColumns+`
		FROM tokens t
		JOIN partners p ON p.id = t.partner_id
		LEFT JOIN agreements a ON a.partner_id = t.partner_id
			AND a.version = (SELECT MAX(v.version) FROM agreements v WHERE v.partner_id = t.partner_id AND v.approved_at <> 0)
		LEFT JOIN grants g ON g.member_id = t.member_id AND g.partner_id = t.partner_id
		WHERE t.id = ?`, id), slices.Concat(p.dest(), a.dest(), g.dest())...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("access by token id: %w", glasshouse.Errorf(glasshouse.ENOTFOUND, "Token not found."))
	} else if err != nil {
		return nil, fmt.Errorf("access by token id: %w", err)
	}
	out := &glasshouse.TokenAccess{Token: tok, Partner: p.partner()}
	if a.found() {
		out.Agreement = a.agreement()
	}
	if g.found() {
		if out.Grant, err = g.grant(); err != nil {
			return nil, fmt.Errorf("access by token id: %w", err)
		}
	}
	return out, nil
}

// RefreshTokenByHash returns the refresh token whose value has the hash
// hash; ENOTFOUND.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (*glasshouse.Token, error) {
	tok, err := s.token(ctx, `t.refresh_hash = ?`, hash)
	if err != nil {
		return nil, fmt.Errorf("refresh token by hash: %w", err)
	}
	return tok, nil
}

// TokenBySubject returns the newest token of clientID for subject.
func (s *Store) TokenBySubject(ctx context.Context, clientID, subject string) (*glasshouse.Token, error) {
	tok, err := s.token(ctx, `t.client_id = ? AND t.subject = ? ORDER BY t.created_at DESC, t.id DESC LIMIT 1`, clientID, subject)
	if err != nil {
		return nil, fmt.Errorf("token by subject: %w", err)
	}
	return tok, nil
}

func (s *Store) token(ctx context.Context, where string, args ...any) (*glasshouse.Token, error) {
	tok, err := scanToken(s.read(ctx).queryRow(`SELECT `+tokenColumns+` FROM tokens t WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, glasshouse.Errorf(glasshouse.ENOTFOUND, "Token not found.")
	}
	return tok, err
}

// RevokeToken revokes an access token, or a refresh token with its whole
// family, at now. No error if already revoked; ENOTFOUND if absent.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) error {
	err := s.write(ctx, func(t *tx) error {
		var kind, family string
		err := t.queryRow(`SELECT kind, family_id FROM tokens WHERE id = ?`, id).Scan(&kind, &family)
		if errors.Is(err, sql.ErrNoRows) {
			return glasshouse.Errorf(glasshouse.ENOTFOUND, "Token not found.")
		} else if err != nil {
			return err
		}
		if kind == glasshouse.RefreshToken {
			return t.revokeFamily(family, now)
		}
		_, err = t.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, micros(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// Secret returns the named secret, creating it from generate on first use.
// Callers racing on a new name, on one node or several, may each call
// generate, but only the first value stored is kept, and all get it.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var value []byte
	err := s.read(ctx).queryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	if err == nil {
		return value, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("secret %s: generate: %w", name, err)
	} else if len(fresh) == 0 {
		return nil, fmt.Errorf("secret %s: generate returned no bytes", name)
	}
	now := s.now()
	err = s.write(ctx, func(t *tx) error {
		if _, err := t.exec(`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			name, fresh, micros(now)); err != nil {
			return err
		}
		return t.queryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return value, nil
}
