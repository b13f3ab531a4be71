package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/glasshouse/glasshouse/clientip"
)

func TestBehind(t *testing.T) {
	proxies, err := clientip.ParsePrefixes("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"direct client forging the header", "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"through the proxy", "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client prepends a lie", "10.1.2.3:5000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", "192.0.2.7:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"header split in two", "10.1.2.3:5000", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9"},
		{"garbage after the client", "10.1.2.3:5000", []string{"203.0.113.9, not-an-ip"}, "10.1.2.3"},
		{"proxy without the header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv6 client", "10.1.2.3:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped proxy", "[::ffff:10.1.2.3]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := clientip.Behind(proxies, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientip.Of(r) }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNoProxies(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	var got string
	clientip.Behind(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientip.Of(r) })).ServeHTTP(httptest.NewRecorder(), r)
	if got != "10.1.2.3" {
		t.Errorf("without trusted proxies the header was believed: %q", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	if p, err := clientip.ParsePrefixes(""); err != nil || len(p) != 0 {
		t.Errorf(`ParsePrefixes("") = %v, %v`, p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1/8/8"} {
		if _, err := clientip.ParsePrefixes(bad); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", bad)
		}
	}
}

// TestBehindZones: an IPv6 zone names an interface of the host that
// wrote it, not another client: a trusted link-local proxy is trusted
// whatever interface it is seen on, and a client's address is passed on
// without its zone, so that zones cannot split one client into many.
// (Found by FuzzBehind.)
func TestBehindZones(t *testing.T) {
	proxies, err := clientip.ParsePrefixes("10.0.0.0/8, fe80::/10")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"link-local proxy seen with a zone", "[fe80::1%eth0]:443", "203.0.113.9", "203.0.113.9"},
		{"client with a zone", "10.1.2.3:5000", "2001:db8::7%x", "2001:db8::7"},
		{"the same client, another zone", "10.1.2.3:5000", "2001:db8::7%y", "2001:db8::7"},
		{"a trusted proxy with a zone in the header", "10.1.2.3:5000", "203.0.113.9, fe80::2%eth1", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := clientip.Behind(proxies, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientip.Of(r) }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-For", tc.xff)
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
		})
	}
}
