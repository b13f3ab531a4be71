// Package docs embeds the project's documentation pages (the *.md files of
// this folder), so that the server can serve them as they are in the
// repository: the partner portal links to the partner guide at
// /docs/partners.md.
package docs

import "embed"

// FS holds the *.md files of this folder at its root.
//
//go:embed *.md
var FS embed.FS
