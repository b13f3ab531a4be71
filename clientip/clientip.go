package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Of returns the address of the client that made r: the host of
// r.RemoteAddr, which Behind has set to the client's own when the request
// came through a trusted proxy.
func Of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Behind returns next, made to see the client's address as RemoteAddr
// when a request comes from one of proxies: the right-most address of
// X-Forwarded-For that is not itself a trusted proxy (what the first
// trusted proxy saw; anything left of it the client may have written). A
// request from any other peer keeps its RemoteAddr, whatever headers it
// sends. With no proxies, Behind returns next.
//
// Addresses are compared and passed on without their IPv6 zone (the
// "%eth0" of a link-local address) and IPv4-mapped form: a zone names an
// interface of the host that wrote it, not a different client, so
// "fe80::1%a" and "fe80::1%b" are one client (the limits per address
// would otherwise count them apart), and a trusted link-local proxy is
// trusted whatever interface it is seen on.
func Behind(proxies []netip.Prefix, next http.Handler) http.Handler {
	if len(proxies) == 0 {
		return next
	}
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(canonical(a)) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddr(Of(r))
		if err != nil || !trusted(peer) {
			next.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // garbage: keep the last address known good
			}
			peer = a
			if !trusted(a) {
				break
			}
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = netip.AddrPortFrom(canonical(peer), 0).String()
		next.ServeHTTP(w, r2)
	})
}

// canonical is a without its zone, and unmapped if it is an IPv4-mapped
// IPv6 address.
func canonical(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// ParsePrefixes parses a comma-separated list of CIDR prefixes and plain
// addresses, such as "10.0.0.0/8, 192.0.2.7"; "" is none.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
