package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Names of the server's secrets in OAuthStore.Secret. Changing one
// invalidates what depends on it: the token key every outstanding access
// token and code, and every relay address (its key is derived from it);
// the signing key every ID token; the pairwise key every id that partners
// know members by.
const (
	secretTokenKey    = "oauth_token_key"    // 32 bytes: AES-256-GCM key of access tokens and codes
	secretSigningKey  = "oauth_signing_key"  // RSA 2048 private key, PKCS#8 DER: ID tokens
	secretPairwiseKey = "oauth_pairwise_key" // 32 bytes: HMAC key of pairwise ids
)

// cryptoKeyID names the token key in the JWE header of access tokens.
const cryptoKeyID = "gh1"

// secrets are the server's keys, loaded from the store.
type secrets struct {
	tokenKey    [32]byte
	signing     *signingKey
	pairwiseKey []byte
	relayKey    []byte // derived from tokenKey: AES key of relay addresses
}

// loadSecrets reads the server's secrets, creating them on first use.
func loadSecrets(ctx context.Context, store Store) (*secrets, error) {
	random32 := func() ([]byte, error) {
		b := make([]byte, 32)
		rand.Read(b) // never fails (crypto/rand)
		return b, nil
	}
	tokenKey, err := store.Secret(ctx, secretTokenKey, random32)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if len(tokenKey) != 32 {
		return nil, fmt.Errorf("token key: %d bytes, want 32", len(tokenKey))
	}
	pairwiseKey, err := store.Secret(ctx, secretPairwiseKey, random32)
	if err != nil {
		return nil, fmt.Errorf("pairwise key: %w", err)
	}
	if len(pairwiseKey) < 32 {
		return nil, fmt.Errorf("pairwise key: %d bytes, want 32", len(pairwiseKey))
	}
	der, err := store.Secret(ctx, secretSigningKey, func() ([]byte, error) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(k)
	})
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	signing, err := parseSigningKey(der)
	if err != nil {
		return nil, err
	}
	s := &secrets{signing: signing, pairwiseKey: pairwiseKey}
	copy(s.tokenKey[:], tokenKey)
	s.relayKey = deriveKey(tokenKey, "glasshouse relay address v1")
	return s, nil
}

// parseSigningKey reads an RSA private key in PKCS#8 DER. Its id is the
// base64url SHA-256 of the public key (PKIX DER), so every node agrees on it.
func parseSigningKey(der []byte) (*signingKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key: %T, want an RSA key", k)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(sum[:16]), priv: priv}, nil
}

// signingKey is op.SigningKey: the RSA key that signs ID tokens (RS256).
type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is op.Key: the public half, published on the JWKS endpoint.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.priv.PublicKey }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)
