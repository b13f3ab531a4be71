package glasshouse

import (
	"fmt"
	"strings"
	"unicode"
)

// The one-line texts that members see as written by someone else (display
// names, group titles, partner names) must not change how they, or the
// text around them, look. checkLine refuses the characters that can:
//
//   - control characters (Unicode Cc: NUL, escape, tab, line breaks) and
//     the line and paragraph separators (Zl, Zp): a name is one line;
//   - format characters (Cf), which are invisible: the bidirectional
//     embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069)
//     that reorder the text after them, so "Alice" + U+202E can make a
//     message list read backwards; the directional marks (U+200E, U+200F,
//     U+061C); zero width space, word joiner and the invisible operators
//     (U+200B, U+2060-U+2064); the byte order mark (U+FEFF); the soft
//     hyphen (U+00AD); the tag characters (U+E0001, U+E0020-U+E007F),
//     which can smuggle hidden ASCII; interlinear annotations;
//   - the other default-ignorable characters that render as nothing, such
//     as the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), with which a
//     name looks empty.
//
// Two format characters stay allowed: the zero width non-joiner and joiner
// (U+200C, U+200D), without which Persian and the Indic scripts cannot be
// written and emoji sequences (a family, a flag with a rainbow) fall
// apart; they cannot reorder text. Variation selectors (U+FE0E, U+FE0F)
// are not format characters and stay allowed too: emoji need them.
//
// Message texts have their own, looser rule (NewMessage.Validate): they
// are many lines, and shown in a box of their own.
func checkLine(field, s string) error {
	i := strings.IndexFunc(s, unsafeInLine)
	if i < 0 {
		return nil
	}
	r := []rune(s[i:])[0]
	what := "an invisible formatting character"
	switch {
	case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
		what = "a control character or line break"
	case isBidiControl(r):
		what = "a text direction control"
	}
	return Errorf(EINVALID, "%s must not contain %s (%s).", field, what, codePoint(r))
}

// unsafeInLine reports whether r may not appear in a one-line text (see
// checkLine).
func unsafeInLine(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf):
		return true
	}
	return unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// isBidiControl reports whether r is one of the bidirectional formatting
// characters (embeddings, overrides, isolates and marks).
func isBidiControl(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r)
}

// codePoint names r as U+XXXX.
func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }
