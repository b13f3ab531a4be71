package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/password"
)

// Known answers computed with the argon2 reference implementation (Debian
// package argon2, 0~20171227), for example:
//
//	echo -n 'correct horse battery staple' | argon2 'glasshouse-salt!' -id -t 2 -k 19456 -p 1 -l 32 -e
var vectors = []struct {
	name, password, encoded string
}{
	{"owasp defaults", "correct horse battery staple",
		"$argon2id$v=19$m=19456,t=2,p=1$Z2xhc3Nob3VzZS1zYWx0IQ$LqLMVrHzxd4FyuGid9lFzjym20270EwPxfQJDkDXzSI"},
	{"non-ascii password", "päss wörd ✓",
		"$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$vXgZY8ymLBWKsuUnN9+zS1uO9bYzINiDC9XNwDJCFyc"},
	{"other parameters", "correct horse battery staple",
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$mtB7vZKFuEQDVzeZe5lTtf3BPC1e5BL1UKy7IW/SpV0"},
}

func TestVerifyKnownAnswers(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			if ok, err := password.Verify(v.password, v.encoded); err != nil || !ok {
				t.Errorf("Verify(right password) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := password.Verify(v.password+"x", v.encoded); err != nil || ok {
				t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestHashRoundTrip(t *testing.T) {
	const pw = "a long enough password"
	h1, h2 := password.Hash(pw), password.Hash(pw)
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %q; want the OWASP argon2id parameters", h1)
	}
	if h1 == h2 {
		t.Fatalf("two hashes of the same password are equal (%q): salt is not random", h1)
	}
	for _, h := range []string{h1, h2} {
		if ok, err := password.Verify(pw, h); err != nil || !ok {
			t.Errorf("Verify(pw, %q) = %v, %v; want true, nil", h, ok, err)
		}
		if ok, err := password.Verify("a long enough passworD", h); err != nil || ok {
			t.Errorf("Verify(other pw, %q) = %v, %v; want false, nil", h, ok, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	const salt, key = "Z2xhc3Nob3VzZS1zYWx0IQ", "LqLMVrHzxd4FyuGid9lFzjym20270EwPxfQJDkDXzSI"
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"trailing junk in version", "$argon2id$v=19x$m=19456,t=2,p=1$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key},
		{"signed parameter", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!!!!!!!!!$" + key},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key},
		{"short key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5"},
		{"extra field", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := password.Verify("correct horse battery staple", tt.encoded)
			if ok || !errors.Is(err, password.ErrMalformed) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", tt.encoded, ok, err)
			}
		})
	}
}
