package ui

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestCommand(t *testing.T) {
	for in, want := range map[string]string{
		"https://glasshouse.example:8443/x": "https://glasshouse.example:8443/x",
		"q+2/abc==":                         "q+2/abc==",
		"http://host/a b":                   "'http://host/a b'",
		"http://host/$(rm -rf ~)":           "'http://host/$(rm -rf ~)'",
		"it's":                              `'it'\''s'`,
		"":                                  "''",
	} {
		if got := Command("cmd", in); got != "cmd "+want {
			t.Errorf("Command(cmd, %q) = %s; want cmd %s", in, got, want)
		}
	}
}

func TestOrigin(t *testing.T) {
	r := httptest.NewRequest("GET", "http://gh.example:8080/privacy", nil)
	if got := Origin(r, ""); got != "http://gh.example:8080" {
		t.Errorf("Origin = %q; want the request's", got)
	}
	r.TLS = &tls.ConnectionState{}
	if got := Origin(r, ""); got != "https://gh.example:8080" {
		t.Errorf("Origin over TLS = %q", got)
	}
	if got := Origin(r, "https://glasshouse.example/"); got != "https://glasshouse.example" {
		t.Errorf("Origin with a public URL = %q; want it without the slash", got)
	}
}
