package portal

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/glasshouse/glasshouse/docs"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
)

// guide is one page of package docs, rendered to HTML once.
type guide struct {
	Name  string // the file name, "partners.md": its URL is /docs/{Name}
	Title string // its first heading
	Body  template.HTML
}

// guideOrder lists the guides first on the index; the others follow by
// name.
var guideOrder = []string{"partners.md", "api.md", "audit.md", "log-format.md", "operations.md"}

// markdown renders GitHub-flavoured Markdown (tables, autolinks) safely:
// goldmark leaves raw HTML out and drops links to javascript:, vbscript:,
// file: and data: URLs unless told otherwise, and it is not told.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
)

// renderMarkdown returns src as HTML.
func renderMarkdown(src []byte) (template.HTML, error) {
	var b bytes.Buffer
	if err := markdown.Convert(src, &b); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// loadGuides renders every *.md file of fsys, in guideOrder then by name.
func loadGuides(fsys fs.FS) ([]guide, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	rank := func(n string) int {
		if i := slices.Index(guideOrder, n); i >= 0 {
			return i
		}
		return len(guideOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	var out []guide
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		body, err := renderMarkdown(src)
		if err != nil {
			return nil, err
		}
		out = append(out, guide{Name: name, Title: firstHeading(src, name), Body: body})
	}
	return out, nil
}

// firstHeading returns the text of a Markdown file's first "# " line, or
// fallback.
func firstHeading(src []byte, fallback string) string {
	for _, line := range strings.Split(string(src), "\n") {
		if t, ok := strings.CutPrefix(line, "# "); ok {
			return strings.TrimSpace(t)
		}
	}
	return fallback
}

// docsIndex serves GET /docs/: the list of guides.
func (p *Portal) docsIndex(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "docs", http.StatusOK, &ui.Page{Section: "developers", Member: p.kit.Member(r), Data: p.guides})
}

// serveDoc serves GET /docs/{name}.md: one guide inside the layout.
func (p *Portal) serveDoc(w http.ResponseWriter, r *http.Request) {
	i := slices.IndexFunc(p.guides, func(g guide) bool { return g.Name == r.PathValue("name") })
	if i < 0 {
		p.kit.NotFound(w, r)
		return
	}
	p.render(w, r, "doc", http.StatusOK, &ui.Page{Section: "developers", Member: p.kit.Member(r), Data: p.guides[i]})
}

// guidesFS is the documentation the portal serves.
var guidesFS fs.FS = docs.FS
