// Package docs embeds the project's documentation pages (the *.md files of
// this folder), so that the server can show them as they are in the
// repository: the partner portal renders each as a page at /docs/{name}.md
// (the partner guide at /docs/partners.md), where links between the files
// keep working.
package docs
