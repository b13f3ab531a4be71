package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/clientip"
)

// FuzzBehind sends requests from arbitrary peers with arbitrary
// X-Forwarded-For headers through Behind. Run it longer with
//
//	go test -run='^$' -fuzz='^FuzzBehind$' -fuzztime=5m ./clientip
//
// Properties:
//   - from a peer that is not a trusted proxy, the header is ignored;
//   - from a trusted proxy, the client's address is written canonically
//     (no zone, no IPv4-mapped form, port 0), and it is what the package
//     documents: of the addresses at the right end of the header (up to
//     the first that does not parse), the right-most that is not a trusted
//     proxy, else the left-most of them, else the peer's own (an oracle
//     written from that sentence);
//   - when the client is not a trusted proxy, whatever is written left of
//     it (by the client) changes nothing.
func FuzzBehind(f *testing.F) {
	proxies, err := clientip.ParsePrefixes("10.0.0.0/8, 192.0.2.7, 2001:db8::/32, fe80::/10")
	if err != nil {
		f.Fatal(err)
	}
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(canon(a)) {
				return true
			}
		}
		return false
	}
	for _, tc := range [][3]string{
		{"203.0.113.5:4000", "1.2.3.4", ""},
		{"10.1.2.3:5000", "203.0.113.9", ""},
		{"10.1.2.3:5000", "1.2.3.4, 203.0.113.9", "10.9.9.9"},
		{"192.0.2.7:80", "198.51.100.1, 10.9.9.9", ""},
		{"10.1.2.3:5000", "203.0.113.9, not-an-ip", ""},
		{"[::ffff:10.1.2.3]:5000", "::ffff:203.0.113.9", ""},
		{"[2001:db8::1]:443", "fe80::1%eth0", ""},
		{"[fe80::1%eth0]:443", "203.0.113.9", ""},
		{"10.0.0.1:1", "10.0.0.2,10.0.0.3", ""},
		{"10.0.0.1", "203.0.113.9", ""},
		{"10.0.0.1:1", " , ,", "\t203.0.113.9 "},
	} {
		f.Add(tc[0], tc[1], tc[2], "1.1.1.1")
	}
	run := func(peer string, xff ...string) string {
		var got string
		h := clientip.Behind(proxies, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	f.Fuzz(func(t *testing.T, peer, xff1, xff2, prefix string) {
		got := run(peer, xff1, xff2)
		p, err := netip.ParseAddr(clientip.Of(&http.Request{RemoteAddr: peer}))
		if err != nil || !trusted(p) {
			if got != peer {
				t.Fatalf("peer %q (not a trusted proxy) became %q", peer, got)
			}
			return
		}
		ap, err := netip.ParseAddrPort(got)
		if err != nil || ap.Port() != 0 || ap.Addr() != canon(ap.Addr()) || ap.String() != got {
			t.Fatalf("peer %q, X-Forwarded-For %q %q: client %q is not one canonical address", peer, xff1, xff2, got)
		}
		// The oracle.
		var tail []netip.Addr // the parseable right end of the header, right to left
		for _, h := range slicesBackward(strings.Split(xff1+","+xff2, ",")) {
			a, err := netip.ParseAddr(strings.TrimSpace(h))
			if err != nil {
				break
			}
			tail = append(tail, a)
		}
		want := canon(p)
		for _, a := range tail {
			want = canon(a)
			if !trusted(a) {
				break
			}
		}
		if ap.Addr() != want {
			t.Fatalf("peer %q, X-Forwarded-For %q %q: client %s, want %s", peer, xff1, xff2, ap.Addr(), want)
		}
		if !trusted(want) && xff1 != "" {
			if again := run(peer, prefix+","+xff1, xff2); again != got {
				t.Fatalf("peer %q, X-Forwarded-For %q %q: a client's prefix %q changed the client from %q to %q", peer, xff1, xff2, prefix, got, again)
			}
		}
	})
}

// canon is a's canonical form: no zone, IPv4 unmapped.
func canon(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// slicesBackward returns s reversed.
func slicesBackward(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
