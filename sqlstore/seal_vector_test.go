package sqlstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// Known-answer vectors of the two on-disk formats of keys.go, built here
// from the primitives alone (AES-256-GCM with a 12-byte nonce, HKDF-SHA256),
// so that a change to either format, or to the derivation of the message
// key, fails this test instead of leaving old rows unreadable:
//
//	wrapped secret: 0x01 | nonce (12) | AES-256-GCM(KEK, secret, AD = 0x01 | member id (8, big-endian))
//	message body:   0x01 | nonce (12) | AES-256-GCM(HKDF-SHA256(secret, no salt, "glasshouse/message/v1", 32),
//	                       text, AD = 0x01 | conversation id (8) | seq (8))
var (
	vectorKEK    = bytes.Repeat([]byte{0x4b}, 32) // "K"
	vectorSecret = func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
	vectorNonce = []byte("glasshouse!!") // 12 bytes
)

const (
	vectorMember       = 42
	vectorConversation = 7
	vectorSeq          = 3
	vectorText         = "Hi Bob! Are you coming on Saturday?"
	// The bytes the two formats give for the inputs above, computed
	// independently with Python's cryptography package (AESGCM, HKDF).
	vectorWrapped = "01676c617373686f75736521213142df1a85322c52d21ef2aacc0fb1d289ff9b46698d4f0001fa60e73e44c776cbf18d44b0236dc3ac7e53f032fe38f4"
	vectorBody    = "01676c617373686f75736521216f7c365e51e0ff7e33ea9894fd426d13fe5d19b5a2ae0c0809b690b86eaabb5db701c7c64abe4de76d67516e6627eefbdbc19a"
)

func sealWithNonce(t *testing.T, key, plaintext, ad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{0x01}, vectorNonce...)
	return gcm.Seal(out, vectorNonce, plaintext, ad)
}

func TestSealVectors(t *testing.T) {
	memberAD := binary.BigEndian.AppendUint64([]byte{0x01}, vectorMember)
	wrapped := sealWithNonce(t, vectorKEK, vectorSecret, memberAD)
	messageKey, err := hkdf.Key(sha256.New, vectorSecret, nil, "glasshouse/message/v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	bodyAD := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{0x01}, vectorConversation), vectorSeq)
	body := sealWithNonce(t, messageKey, []byte(vectorText), bodyAD)

	// The vectors pin the format...
	if got := hex.EncodeToString(wrapped); got != vectorWrapped {
		t.Errorf("wrapped secret vector = %s, want %s", got, vectorWrapped)
	}
	if got := hex.EncodeToString(body); got != vectorBody {
		t.Errorf("message body vector = %s, want %s", got, vectorBody)
	}
	// ...and the store's code reads them.
	k, err := newKEK(vectorKEK)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := k.unwrap(vectorMember, wrapped)
	if err != nil || !bytes.Equal(secret, vectorSecret) {
		t.Fatalf("unwrap the vector: %x, %v", secret, err)
	}
	mk, err := newMemberKey(wrapped, secret)
	if err != nil {
		t.Fatal(err)
	}
	if text, err := mk.open(vectorConversation, vectorSeq, body); err != nil || text != vectorText {
		t.Fatalf("open the vector: %q, %v", text, err)
	}
	// And what the store seals, it and the format read alike.
	sealed := mk.seal(vectorConversation, vectorSeq, vectorText)
	if len(sealed) != len(body) || sealed[0] != 0x01 {
		t.Fatalf("seal gives %d bytes starting %x, want %d starting 01", len(sealed), sealed[:1], len(body))
	}
	if _, err := mk.open(vectorConversation, vectorSeq+1, sealed); err == nil {
		t.Error("a body opened under another row's seq")
	}
}
