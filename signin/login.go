package signin

import (
	"context"
	"fmt"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/ratelimit"
)

// dummyHash is verified when a login names an unknown handle, so that the
// answer takes as long as for a known one: it is a hash with
// password.Hash's parameters (TestDummyHash) of 32 random bytes that were
// thrown away, and CheckPassword refuses it even if one matched.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$ZUdKSFR6T2htU2pPRnUwdw$1oWUT89+jG9aG6zGjhbTHnL3WDaszjuwaRJ6tPUYgs4"

var (
	errBadLogin = glasshouse.Errorf(glasshouse.EUNAUTHORIZED, "Wrong handle or password.")
	errNoLogin  = glasshouse.Errorf(glasshouse.EINVALID, "Handle and password are required.")
)

// Login checks a handle and password (CheckPassword) and opens a session
// that lasts the configured lifetime, returning its token, which only the
// client keeps: EINVALID when either is empty, and CheckPassword's errors.
func (s *Service) Login(ctx context.Context, handle, pw, ip string) (token string, sess *glasshouse.Session, err error) {
	if handle == "" || pw == "" {
		return "", nil, errNoLogin
	}
	id, err := s.CheckPassword(ctx, handle, pw, ip)
	if err != nil {
		return "", nil, err
	}
	token = newToken()
	now := s.now()
	sess = &glasshouse.Session{TokenHash: hashToken(token), MemberID: id, CreatedAt: now, ExpiresAt: now.Add(s.lifetime)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// CheckPassword checks the password of handle (any case) and returns the
// member's id, within the limits of failed attempts per client address ip
// and per account: ERATELIMITED (an *httpio.RetryError) once either is
// spent, even for the right password; EUNAUTHORIZED for an unknown handle
// or a wrong password, which read and take the same.
func (s *Service) CheckPassword(ctx context.Context, handle, pw, ip string) (memberID int64, err error) {
	handle = strings.ToLower(handle)
	done, err := s.attempt(ip, handle)
	if err != nil {
		return 0, err
	}
	failed := true
	defer func() { done(failed) }()
	id, hash, err := s.store.PasswordHash(ctx, handle)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		hash = dummyHash
	} else if err != nil {
		return 0, err
	}
	if ok, err := password.Verify(pw, hash); err != nil {
		return 0, fmt.Errorf("signin: stored hash of member %d: %w", id, err)
	} else if !ok || hash == dummyHash {
		return 0, errBadLogin
	}
	failed = false
	return id, nil
}

// attempt admits a password attempt against the address's and the
// account's limits; the caller calls done with whether the password was
// wrong, so that only failures count, and attempts in flight count until
// then.
func (s *Service) attempt(ip, handle string) (done func(failed bool), err error) {
	var dones []func(bool)
	all := func(failed bool) {
		for _, d := range dones {
			d(failed)
		}
	}
	for _, lim := range []struct {
		l   *ratelimit.Limiter
		key string
		msg string
	}{
		{s.perIP, ip, "Too many failed logins from this address; try again later."},
		{s.perAccount, handle, "Too many failed password attempts for this account; try again later."},
	} {
		d, ok, after := lim.l.Attempt(lim.key)
		if !ok {
			all(false) // refused before trying: nothing to count
			return nil, &httpio.RetryError{Err: glasshouse.Errorf(glasshouse.ERATELIMITED, "%s", lim.msg), After: after}
		}
		dones = append(dones, d)
	}
	return all, nil
}
