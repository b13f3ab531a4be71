package accesslog_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/accesslog"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandlerRoutes(t *testing.T) {
	_, o, srv := MustLog(t, 300) // tiles: 0/000 full, 0/001.p/44, entries likewise, 1/000.p/1
	pendingEntry := testEntry(t, 999)
	o.add(accesslog.Pending{EventID: pendingEntry.EventID, Entry: MustEncode(t, pendingEntry)})

	tests := []struct {
		path, status, cache, body string
	}{
		{"/log/checkpoint", "200", "public, max-age=1", "glasshouse.example/log\n300\n"},
		{"/log/key", "200", "", MustKey(t).VerifierKey + "\n"},
		{"/log/tile/0/000", "200", "public, max-age=31536000, immutable", ""},
		{"/log/tile/entries/000", "200", "public, max-age=31536000, immutable", ""},
		{"/log/tile/0/001.p/44", "200", "public, max-age=60", ""},
		{"/log/tile/entries/001.p/44", "200", "public, max-age=60", ""},
		{"/log/tile/1/000.p/1", "200", "public, max-age=60", ""},
		{"/log/tile/0/002", "404", "no-store", `"error":"not_found"`},
		{"/log/tile/0/0", "404", "no-store", `"error":"not_found"`},
		{"/log/tile/0/x000/000", "404", "no-store", ""},
		{"/log/tile/0/000.p/0", "404", "no-store", ""},
		{"/log/tile/64/000", "404", "no-store", ""},
		{"/log/tile/.state/treeState", "404", "no-store", ""},
		{"/log/receipt/" + testEntry(t, 3).EventID.String(), "200", "public, max-age=86400", `"status":"integrated","index":3`},
		{"/log/receipt/" + pendingEntry.EventID.String(), "202", "no-store", `"status":"pending"`},
		{"/log/receipt/00000000000000000000000000000001", "404", "no-store", `"error":"not_found"`},
		{"/log/receipt/nothex", "400", "no-store", `"error":"invalid"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tt.path)
			if got := resp.Status[:3]; got != tt.status {
				t.Fatalf("status %s, want %s (%s)", resp.Status, tt.status, body)
			}
			if tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tt.cache)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body %q lacks %q", body, tt.body)
			}
		})
	}

	_, body := get(t, srv.URL+"/log/tile/0/000")
	if len(body) != 256*32 {
		t.Errorf("full tile has %d bytes", len(body))
	}
	_, body = get(t, srv.URL+"/log/receipt/"+testEntry(t, 3).EventID.String())
	var st accesslog.ReceiptStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Index == nil || *st.Index != 3 || st.EventID != testEntry(t, 3).EventID {
		t.Errorf("receipt status %s: %+v %v", body, st, err)
	}
}

// TestEntryBundlesGzip: entry bundles are gzipped for a client that accepts
// it (tlog-tiles SHOULD), and identical once decompressed; hash tiles and
// other clients get the bytes as they are.
func TestEntryBundlesGzip(t *testing.T) {
	_, _, srv := MustLog(t, 300)
	fetch := func(path, acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding) // set by hand: the client does not decompress
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, path := range []string{"/log/tile/entries/000", "/log/tile/entries/001.p/44"} {
		_, plain := fetch(path, "identity")
		resp, zipped := fetch(path, "br;q=1, gzip;q=0.8")
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: Content-Encoding %q, Vary %q", path, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) {
			t.Fatalf("%s: decompressed bundle differs (%v)", path, err)
		}
		if len(zipped) >= len(plain) {
			t.Errorf("%s: gzip gave %d bytes for %d", path, len(zipped), len(plain))
		}
	}
	for _, tc := range []struct{ path, accept string }{
		{"/log/tile/entries/000", "gzip;q=0"},
		{"/log/tile/entries/000", ""},
		{"/log/tile/0/000", "gzip"},
		{"/log/tile/entries/999", "gzip"}, // a 404 stays plain JSON
	} {
		if resp, _ := fetch(tc.path, tc.accept); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s with Accept-Encoding %q: Content-Encoding %q", tc.path, tc.accept, resp.Header.Get("Content-Encoding"))
		}
	}
}

func TestReceipt(t *testing.T) {
	k := MustKey(t)
	entry := MustEncode(t, testEntry(t, 12))
	h, err := accesslog.SignReceipt(k.Signer, entry)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) > 256 || strings.ContainsAny(h, " \r\n\t") {
		t.Errorf("receipt %q is not a compact header value", h)
	}
	r, err := accesslog.VerifyReceipt(h, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if r.EventID != testEntry(t, 12).EventID || r.LeafHash != accesslog.LeafHash(entry) || r.Time.Unix()%60 != 0 {
		t.Errorf("receipt %+v", r)
	}
	if err := r.Check(entry); err != nil {
		t.Error(err)
	}
	if err := r.Check(MustEncode(t, testEntry(t, 13))); !errors.Is(err, accesslog.ErrBadReceipt) {
		t.Errorf("Check of another entry: %v", err)
	}

	_, other, err := accesslog.NewKey(k.Signer.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(h, ".")
	alter := func(i int, v string) string { g := append([]string(nil), f...); g[i] = v; return strings.Join(g, ".") }
	otherHeader, _ := accesslog.SignReceipt(other.Signer, entry)
	tests := []struct {
		name, header string
	}{
		{"another event id", alter(1, testEntry(t, 13).EventID.String())},
		{"another minute", alter(2, "1772368500")},
		{"not a minute", alter(2, "1772368441")},
		{"another hash", alter(3, strings.Repeat("ab", 32))},
		{"another key hash", alter(4, "00000000")},
		{"bad signature", alter(5, f[5][:10]+"AAAA"+f[5][14:])},
		{"version 2", alter(0, "v2")},
		{"missing field", strings.Join(f[:5], ".")},
		{"signed by another key", otherHeader},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := accesslog.VerifyReceipt(tt.header, k.Verifier); !errors.Is(err, accesslog.ErrBadReceipt) {
				t.Errorf("VerifyReceipt: %v, want ErrBadReceipt", err)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "log.key")
	if _, err := accesslog.LoadOrCreateKey(path, "a.example/log"); err == nil {
		t.Error("created a key in a folder that does not exist")
	}
	path = filepath.Join(t.TempDir(), "log.key")
	k1, err := accesslog.LoadOrCreateKey(path, "a.example/log")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := accesslog.LoadOrCreateKey(path, "a.example/log")
	if err != nil {
		t.Fatal(err)
	}
	if k1.VerifierKey != k2.VerifierKey || !strings.HasPrefix(k1.VerifierKey, "a.example/log+") {
		t.Errorf("keys %q and %q", k1.VerifierKey, k2.VerifierKey)
	}
	resp, _ := accesslog.NewVerifier(k1.VerifierKey)
	if resp == nil || resp.KeyHash() != k1.Signer.KeyHash() {
		t.Error("the verifier key does not match the signer")
	}
	if _, err := accesslog.LoadOrCreateKey(path, "b.example/log"); err == nil {
		t.Error("a key for another origin was accepted")
	}
	dir := t.TempDir()
	if err := accesslog.WriteVerifierKey(dir, k1); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, accesslog.VerifierKeyFile)); err != nil || string(b) != k1.VerifierKey+"\n" {
		t.Errorf("%s holds %q, %v; want the verifier key", accesslog.VerifierKeyFile, b, err)
	}
}
