package ui

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
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
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": glasshouse.ENOTFOUND, "message": "No such endpoint or method."})
			return
		}
	}
	k.Render(w, r, k.notFoundPage, http.StatusNotFound, &Page{Member: k.Member(r)})
}
