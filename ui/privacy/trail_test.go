package privacy

import "testing"

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		"https://glasshouse.example:8443/x": "https://glasshouse.example:8443/x",
		"q+2/abc==":                         "q+2/abc==",
		"http://host/a b":                   "'http://host/a b'",
		"http://host/$(rm -rf ~)":           "'http://host/$(rm -rf ~)'",
		"it's":                              `'it'\''s'`,
		"":                                  "''",
	} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %s; want %s", in, got, want)
		}
	}
}
