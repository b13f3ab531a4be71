package glasshouse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// TestDisplayNameCharacters: a display name (and a group title, and a
// partner name, which members see the same way) holds no control
// character and no invisible formatting character that could change how it
// or the text around it looks; the characters real names and emoji need
// stay allowed.
func TestDisplayNameCharacters(t *testing.T) {
	good := []string{
		"",
		"Alice Liddell",
		"Zoë O'Brien-Łukasz",
		"محمد رضا",               // Arabic script: right to left by itself, no control needed
		"میرزا\u200cعلی",         // Persian with a zero width non-joiner
		"क्\u200dष",              // Devanagari with a zero width joiner
		"👨\u200d👩\u200d👧 family", // an emoji sequence
		"❤\ufe0f and ☺\ufe0e",    // variation selectors
		"山田 太郎",
	}
	bad := map[string]string{
		"right-to-left override":  "Alice\u202eecilA",
		"left-to-right embedding": "\u202aAlice",
		"pop directional":         "Alice\u202c",
		"right-to-left isolate":   "Alice\u2067x",
		"first strong isolate":    "Alice\u2068x\u2069",
		"right-to-left mark":      "Alice\u200f",
		"Arabic letter mark":      "Alice\u061c",
		"NUL":                     "Ali\x00ce",
		"escape":                  "\x1b[31mAlice",
		"tab":                     "Alice\tB",
		"newline":                 "Alice\nB",
		"DEL":                     "Alice\x7f",
		"C1 control":              "Alice\u0085B",
		"line separator":          "Alice\u2028B",
		"paragraph separator":     "Alice\u2029B",
		"zero width space":        "Al\u200bice",
		"word joiner":             "Al\u2060ice",
		"byte order mark":         "\ufeffAlice",
		"soft hyphen":             "Al\u00adice",
		"tag characters":          "Alice\U000e0041\U000e0042",
		"Hangul filler":           "\u3164",
		"halfwidth Hangul filler": "A\uffa0B",
		"interlinear annotation":  "A\ufff9B",
	}
	for _, name := range good {
		if err := (&glasshouse.ProfileUpdate{DisplayName: &name}).Validate(); err != nil {
			t.Errorf("display name %q refused: %v", name, err)
		}
	}
	now := time.Now()
	partner := func(name string) *glasshouse.NewPartner {
		return &glasshouse.NewPartner{Name: "App " + name, RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"profile"},
			Purpose: "Showing your name.", ExpiresAt: now.Add(time.Hour)}
	}
	if err := partner("Streamflix").Validate(now); err != nil {
		t.Fatalf("a good partner: %v", err)
	}
	for what, name := range bad {
		for field, err := range map[string]error{
			"display name":         (&glasshouse.ProfileUpdate{DisplayName: &name}).Validate(),
			"sign-up display name": (&glasshouse.Signup{Handle: "alice", Email: "a@example.org", Password: "correct horse battery", DisplayName: name}).Validate(),
			"group title":          (&glasshouse.NewGroup{Title: "Trip " + name}).Validate(),
			"partner name":         partner(name).Validate(now),
		} {
			if glasshouse.ErrorCode(err) != glasshouse.EINVALID || !strings.Contains(glasshouse.ErrorMessage(err), "must not contain") {
				t.Errorf("%s with a %s (%q): %v; want invalid, saying why", field, what, name, err)
			}
		}
	}
	// The message names the character.
	name := "Alice\u202eecilA"
	err := (&glasshouse.ProfileUpdate{DisplayName: &name}).Validate()
	if msg := glasshouse.ErrorMessage(err); msg != "Display name must not contain a text direction control (U+202E)." {
		t.Errorf("message %q", msg)
	}
}
