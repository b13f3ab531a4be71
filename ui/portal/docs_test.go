package portal

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMarkdownIsSafe(t *testing.T) {
	got, err := renderMarkdown([]byte("# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n" +
		"[click](javascript:alert(3)) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.org/a?b=<c>)\n\n" +
		"| a | b |\n| - | - |\n| `<b>` | 2 |\n"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(got)
	for _, bad := range []string{"<script", "<img", "onerror", "javascript:", "data:text/html", "<b>"} {
		if strings.Contains(html, bad) {
			t.Errorf("rendered HTML holds %q:\n%s", bad, html)
		}
	}
	for _, want := range []string{`<h1 id="title">Title</h1>`, `<a href="https://example.org/a?b=%3Cc%3E">ok</a>`, "<table>", "<code>&lt;b&gt;</code>"} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered HTML lacks %q:\n%s", want, html)
		}
	}
}

func TestGuideOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"zeta.md":     {Data: []byte("no heading\n")},
		"audit.md":    {Data: []byte("# Auditor guide\n")},
		"alpha.md":    {Data: []byte("intro\n# Alpha\n")},
		"partners.md": {Data: []byte("# Partner guide\n")},
	}
	gs, err := loadGuides(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range gs {
		got = append(got, g.Name+"="+g.Title)
	}
	if want := "partners.md=Partner guide audit.md=Auditor guide alpha.md=Alpha zeta.md=zeta.md"; strings.Join(got, " ") != want {
		t.Errorf("guides %q; want %s", got, want)
	}
}
