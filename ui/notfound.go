package ui

import (
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// apiPrefixes are the paths that programs call: a path under one of them
// that no route matches gets the JSON error the APIs send, not a page.
var apiPrefixes = []string{"/api/", "/graph/", "/oauth/", "/log/", "/.well-known/"}

// NotFound answers 404 for a path that does not exist: the "not found"
// page inside the layout for a browser's path, the APIs' JSON error
// ({"error":"not_found","message":…}) under the API prefixes. Kit.Mount
// makes it the answer to every path no other route matches.
func (k *Kit) NotFound(w http.ResponseWriter, r *http.Request) {
	for _, p := range apiPrefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			httpio.Problem{Status: http.StatusNotFound, Code: glasshouse.ENOTFOUND, Message: "No such endpoint or method."}.Write(w)
			return
		}
	}
	k.Render(w, r, k.notFoundPage, http.StatusNotFound, &Page{Member: k.Member(r)})
}
