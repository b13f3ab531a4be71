package docs

import "embed"

// FS holds the *.md files of this folder at its root.
//
//go:embed *.md
var FS embed.FS
