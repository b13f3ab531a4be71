package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

// asset is one embedded file served under /assets/.
type asset struct {
	body []byte
	hash string // the first 16 hex digits of its SHA-256: its URL's version
	kind string // Content-Type
}

// loadAssets reads static/: every file by its path below static/, and
// style.css, the files of static/css joined in name order.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	var css bytes.Buffer
	var cssFiles []string
	fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		if strings.HasPrefix(name, "css/") {
			cssFiles = append(cssFiles, p)
			return nil
		}
		b, _ := fs.ReadFile(embedded, p)
		out[name] = newAsset(name, b)
		return nil
	})
	sort.Strings(cssFiles)
	for _, p := range cssFiles {
		b, _ := fs.ReadFile(embedded, p)
		css.Write(b)
		css.WriteByte('\n')
	}
	out["style.css"] = newAsset("style.css", css.Bytes())
	return out
}

func newAsset(name string, b []byte) asset {
	sum := sha256.Sum256(b)
	kind := mime.TypeByExtension(path.Ext(name))
	if kind == "" {
		kind = "application/octet-stream"
	}
	return asset{body: b, hash: hex.EncodeToString(sum[:8]), kind: kind}
}

// AssetURL returns the versioned URL of an asset, such as
// /assets/style.css?v=0123abcd…, for pages rendered outside the Kit (the
// authorization server's). It panics for an unknown name, so that a typo
// fails every test that renders the page.
func (k *Kit) AssetURL(name string) string {
	a, ok := k.assets[name]
	if !ok {
		panic("ui: no asset " + name)
	}
	return "/assets/" + name + "?v=" + a.hash
}

// ServeAssets serves GET /assets/{name...}: with the current version in
// the URL, cached for a year; without it, revalidated every time.
func (k *Kit) ServeAssets(w http.ResponseWriter, r *http.Request) {
	a, ok := k.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.kind)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(a.body)
}

// Mount registers the assets route on mux, /favicon.ico (the icon) for
// the browsers that ask for it whatever the page says, and NotFound for
// every path that no other route matches.
func (k *Kit) Mount(mux *http.ServeMux) {
	mux.HandleFunc("/", k.NotFound)
	mux.HandleFunc("GET /assets/{name...}", k.ServeAssets)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("name", "icon.svg")
		k.ServeAssets(w, r)
	})
}
