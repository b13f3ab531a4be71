package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ui"
)

// partnerCookie holds a partner's portal session: the client id, when the
// session ends, and a MAC over both, the partner's current secret hash and
// its portal epoch, so that a new secret ends every session made with the
// old one, and signing out (a new epoch) ends every session made before.
// The server keeps only the epoch.
const partnerCookie = "glasshouse_partner"

// cookiePath scopes the partner session to the portal.
const cookiePath = "/developers"

// errNoSession means the request has no valid partner session.
var errNoSession = errors.New("no partner session")

// sessionMAC is the MAC of a partner session.
func (p *Portal) sessionMAC(clientID string, expires int64, secretHash []byte, epoch int64) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("glasshouse/portal/partner-session/v2\x00"))
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write(strconv.AppendInt(nil, expires, 10))
	m.Write([]byte{0})
	m.Write(strconv.AppendInt(nil, epoch, 10))
	m.Write([]byte{0})
	m.Write(secretHash)
	return m.Sum(nil)
}

// setSession signs clientID in for the portal's session lifetime.
func (p *Portal) setSession(w http.ResponseWriter, r *http.Request, clientID string, secretHash []byte) error {
	epoch, err := p.store.PortalEpoch(r.Context(), clientID)
	if err != nil {
		return err
	}
	expires := p.now().Add(p.lifetime).Unix()
	enc := base64.RawURLEncoding
	value := enc.EncodeToString([]byte(clientID)) + "." + strconv.FormatInt(expires, 10) + "." +
		enc.EncodeToString(p.sessionMAC(clientID, expires, secretHash, epoch))
	p.setCookie(w, r, value, int(p.lifetime.Seconds()))
	return nil
}

// setCookie sets the partner session cookie, or clears it for maxAge < 0.
func (p *Portal) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: partnerCookie, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure || r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// partner returns the request's signed-in partner, errNoSession when the
// cookie is missing, malformed, expired or forged, or a store error.
func (p *Portal) partner(r *http.Request) (*glasshouse.Partner, error) {
	c, err := r.Cookie(partnerCookie)
	if err != nil {
		return nil, errNoSession
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil, errNoSession
	}
	enc := base64.RawURLEncoding
	id, err1 := enc.DecodeString(parts[0])
	expires, err2 := strconv.ParseInt(parts[1], 10, 64)
	mac, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || p.now().Unix() >= expires {
		return nil, errNoSession
	}
	clientID := string(id)
	secretHash, err := p.store.PartnerSecretHash(r.Context(), clientID)
	var epoch int64
	if err == nil {
		epoch, err = p.store.PortalEpoch(r.Context(), clientID)
	}
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return nil, errNoSession
	} else if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac, p.sessionMAC(clientID, expires, secretHash, epoch)) {
		return nil, errNoSession
	}
	return p.store.PartnerByClientID(r.Context(), clientID)
}

// partnerOnly calls h with the signed-in partner, or sends the visitor to
// the sign-in form.
func (p *Portal) partnerOnly(h func(http.ResponseWriter, *http.Request, *glasshouse.Partner)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		partner, err := p.partner(r)
		if errors.Is(err, errNoSession) {
			ui.SetHeaders(w.Header())
			ui.Redirect(w, r, "/developers#signin")
			return
		} else if err != nil {
			p.kit.Fail(w, r, err)
			return
		}
		h(w, r, partner)
	})
}
