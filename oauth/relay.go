package oauth

import (
	"context"
	"crypto/aes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"sync"

	"github.com/glasshouse/glasshouse"
)

// Mailer delivers email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Mail is one message a RecordingMailer recorded.
type Mail struct {
	To, Subject, Body string
}

// RecordingMailer is the built-in Mailer. It delivers nothing: it keeps
// every message in memory, for tests and the demo, until the process ends.
// It is safe for concurrent use; its zero value is ready.
type RecordingMailer struct {
	mu   sync.Mutex
	sent []Mail
}

// Send records the message.
func (m *RecordingMailer) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, Mail{To: to, Subject: subject, Body: body})
	return nil
}

// Sent returns the messages recorded so far, oldest first.
func (m *RecordingMailer) Sent() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.sent...)
}

// Relay addresses are <local>@relay.<RelayDomain>, one per member per
// partner. The local part is one AES block, encrypted under a key derived
// from the token key, of the member id (6 bytes), the partner id (6 bytes)
// and 4 random bytes, in unpadded lowercase base32: it looks random, it
// cannot be forged, and the server maps it back to its grant without a
// lookup table. A grant keeps its address until it is revoked; a new grant
// gets a new one.
var relayEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

const maxRelayID = 1<<48 - 1

// relayAddress returns a new relay address for memberID at partnerID.
func (s *Server) relayAddress(memberID, partnerID int64) (string, error) {
	if memberID <= 0 || memberID > maxRelayID || partnerID <= 0 || partnerID > maxRelayID {
		return "", fmt.Errorf("relay address: ids %d, %d out of range", memberID, partnerID)
	}
	var block [aes.BlockSize]byte
	putUint48(block[0:6], uint64(memberID))
	putUint48(block[6:12], uint64(partnerID))
	rand.Read(block[12:]) // never fails (crypto/rand)
	c, err := aes.NewCipher(s.keys.relayKey)
	if err != nil {
		return "", fmt.Errorf("relay address: %w", err)
	}
	c.Encrypt(block[:], block[:])
	return strings.ToLower(relayEncoding.EncodeToString(block[:])) + "@relay." + s.relayDomain, nil
}

// relayIDs decodes a relay address into its member and partner ids.
func (s *Server) relayIDs(address string) (memberID, partnerID int64, ok bool) {
	local, domain, found := strings.Cut(strings.ToLower(address), "@")
	if !found || domain != "relay."+strings.ToLower(s.relayDomain) {
		return 0, 0, false
	}
	b, err := relayEncoding.DecodeString(strings.ToUpper(local))
	if err != nil || len(b) != aes.BlockSize {
		return 0, 0, false
	}
	c, err := aes.NewCipher(s.keys.relayKey)
	if err != nil {
		return 0, 0, false
	}
	c.Decrypt(b, b)
	memberID, partnerID = int64(uint48(b[0:6])), int64(uint48(b[6:12]))
	return memberID, partnerID, memberID > 0 && partnerID > 0
}

// Relay forwards a message that arrived for a relay address to the
// member's real address, with a line naming the partner, while the
// member's grant is live and the relay is on. ENOTFOUND for an address
// that is not (or no longer) a relay address; EFORBIDDEN once the member
// cut it off (GrantStore.SetRelayEnabled) or the grant expired.
func (s *Server) Relay(ctx context.Context, address, subject, body string) error {
	errUnknown := glasshouse.Errorf(glasshouse.ENOTFOUND, "No such relay address.")
	memberID, partnerID, ok := s.relayIDs(address)
	if !ok {
		return errUnknown
	}
	g, err := s.store.Grant(ctx, memberID, partnerID)
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return errUnknown
	} else if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if !strings.EqualFold(g.RelayEmail, address) {
		return errUnknown
	}
	if !g.RelayEnabled {
		return glasshouse.Errorf(glasshouse.EFORBIDDEN, "The member turned this relay address off.")
	}
	if !g.Live(s.now()) {
		return glasshouse.Errorf(glasshouse.EFORBIDDEN, "The member's consent to this app has expired.")
	}
	m, err := s.store.MemberByID(ctx, memberID)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	note := fmt.Sprintf("[Sent by %s to your relay address %s. You can turn this address off in your privacy center.]\n\n", g.PartnerName, g.RelayEmail)
	if err := s.mailer.Send(ctx, m.Email, subject, note+body); err != nil {
		return fmt.Errorf("relay: send: %w", err)
	}
	return nil
}

func putUint48(b []byte, v uint64) {
	for i := 5; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func uint48(b []byte) uint64 {
	var v uint64
	for _, c := range b[:6] {
		v = v<<8 | uint64(c)
	}
	return v
}

// deriveKey derives a 32-byte key for purpose from key.
func deriveKey(key []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}
