package ui

import (
	"html/template"
	"time"
)

// Every page writes dates and times in one style, "3 Dec 2026" and
// "3 Dec 2026, 14:05 UTC", inside a <time> element that carries the
// instant in its datetime attribute and the style in data-format.
// static/js/time.js rewrites them in the same style in the reader's own
// time zone ("3 Dec 2026, 15:05 CET"); without script they stay in UTC.
const (
	DateLayout     = "2 Jan 2006"
	DateTimeLayout = "2 Jan 2006, 15:04 UTC"
)

// Date returns t as a <time> element showing its day: "3 Dec 2026".
func Date(t time.Time) template.HTML { return timeElement(t, "date", DateLayout) }

// DateTime returns t as a <time> element showing its day and minute:
// "3 Dec 2026, 14:05 UTC"; "never" for the zero time.
func DateTime(t time.Time) template.HTML {
	if t.IsZero() {
		return "never"
	}
	return timeElement(t, "datetime", DateTimeLayout)
}

// timeElement writes only digits, letters and punctuation of the fixed
// layouts: nothing to escape.
func timeElement(t time.Time, format, layout string) template.HTML {
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `" data-format="` + format + `">` + t.Format(layout) + `</time>`)
}
