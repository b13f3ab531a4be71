package accesslog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
	"github.com/transparency-dev/tessera/api/layout"
)

// EventIndex tells where an event's entry is in the log. The store
// implements it from its access records.
type EventIndex interface {
	// EventLogIndex returns the log index of the event's entry, with
	// integrated false while the entry still waits in the outbox. It returns
	// a *glasshouse.Error with code ENOTFOUND when no access has that id.
	EventLogIndex(ctx context.Context, id EventID) (index uint64, integrated bool, err error)
}

// Cache-Control values of the log's resources.
const (
	cacheImmutable  = "public, max-age=31536000, immutable" // full tiles and bundles never change
	cachePartial    = "public, max-age=60"                  // partial tiles are replaced by full ones, then removed
	cacheCheckpoint = "public, max-age=1"                   // a new one every CheckpointInterval
)

// Handler serves the log over HTTP under /log/:
//
//	GET /log/checkpoint          the latest signed checkpoint (C2SP tlog-checkpoint)
//	GET /log/tile/...            tiles and entry bundles (C2SP tlog-tiles)
//	GET /log/key                 the verifier key in note form, as text
//	GET /log/receipt/{event id}  JSON {"event_id","status":"integrated"|"pending","index"}
//
// It reads the log's files only, so every node can serve it.
type Handler struct {
	log         *Log
	verifierKey string
	events      EventIndex
	mux         *http.ServeMux
	// Fail writes an error response; nil means the package's own JSON
	// {"error","message"} writer. The web package may set its own.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

// NewHandler returns a handler for the log, its published verifier key,
// and the store's event index (nil leaves /log/receipt unregistered).
func NewHandler(log *Log, verifierKey string, events EventIndex) *Handler {
	h := &Handler{log: log, verifierKey: verifierKey, events: events, mux: http.NewServeMux()}
	h.Register(h.mux)
	return h
}

// Register adds the handler's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /log/checkpoint", h.checkpoint)
	mux.HandleFunc("GET /log/tile/{path...}", h.tile)
	mux.HandleFunc("GET /log/key", h.key)
	if h.events != nil {
		mux.HandleFunc("GET /log/receipt/{id}", h.receipt)
	}
}

// ServeHTTP serves the routes of Register.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) checkpoint(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, layout.CheckpointPath, "text/plain; charset=utf-8", cacheCheckpoint)
}

func (h *Handler) tile(w http.ResponseWriter, r *http.Request) {
	rel, partial, ok := tilePath(r.PathValue("path"))
	if !ok {
		h.fail(w, r, glasshouse.Errorf(glasshouse.ENOTFOUND, "No such tile path; see C2SP tlog-tiles."))
		return
	}
	cache := cacheImmutable
	if partial {
		cache = cachePartial
	}
	// Entry bundles are text-like and shrink several times with gzip, which
	// tlog-tiles asks servers to offer; hash tiles do not shrink.
	if strings.HasPrefix(rel, "tile/entries/") {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w = &gzipWriter{ResponseWriter: w}
			defer w.(*gzipWriter).Close()
		}
	}
	h.serveFile(w, r, rel, "application/octet-stream", cache)
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip: it
// names gzip (or *) without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// gzipWriter compresses a successful response body with gzip; an error
// response goes out as it is.
type gzipWriter struct {
	http.ResponseWriter
	gz          *gzip.Writer
	wroteHeader bool
}

func (g *gzipWriter) WriteHeader(status int) {
	if g.wroteHeader {
		return
	}
	g.wroteHeader = true
	if status == http.StatusOK {
		g.Header().Set("Content-Encoding", "gzip")
		g.Header().Del("Content-Length")
		g.gz = gzip.NewWriter(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	g.WriteHeader(http.StatusOK)
	if g.gz == nil {
		return g.ResponseWriter.Write(b)
	}
	return g.gz.Write(b)
}

// Close ends the gzip stream, if one was started.
func (g *gzipWriter) Close() error {
	if g.gz == nil {
		return nil
	}
	return g.gz.Close()
}

// tilePath returns the canonical file path of a tile or entry bundle path
// (what follows /log/tile/), and whether it is partial.
func tilePath(p string) (rel string, partial, ok bool) {
	first, rest, found := strings.Cut(p, "/")
	if !found {
		return "", false, false
	}
	index, width, err := layout.ParseTileIndexPartial(rest)
	if err != nil {
		return "", false, false
	}
	if first == "entries" {
		rel = layout.EntriesPath(index, width)
	} else if level, err := layout.ParseTileLevel(first); err == nil {
		rel = layout.TilePath(level, index, width)
	}
	// Only the canonical spelling: no "..", no leading zeros, no other form.
	return rel, width > 0, rel != "" && rel == "tile/"+p
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, rel, contentType, cache string) {
	b, err := os.ReadFile(filepath.Join(h.log.dir, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		h.fail(w, r, glasshouse.Errorf(glasshouse.ENOTFOUND, "The log has no %s.", rel))
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Access-Control-Allow-Origin", "*") // auditors' browsers may read the log from anywhere
	w.Write(b)
}

func (h *Handler) key(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write([]byte(h.verifierKey + "\n"))
}

// ReceiptStatus is the body of GET /log/receipt/{event id}.
type ReceiptStatus struct {
	EventID EventID `json:"event_id"`
	Status  string  `json:"status"`          // "integrated" or "pending"
	Index   *uint64 `json:"index,omitempty"` // set once integrated
}

func (h *Handler) receipt(w http.ResponseWriter, r *http.Request) {
	id, err := ParseEventID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, glasshouse.Errorf(glasshouse.EINVALID, "An event id is 32 lowercase hex digits."))
		return
	}
	index, integrated, err := h.events.EventLogIndex(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, status := ReceiptStatus{EventID: id, Status: "pending"}, http.StatusAccepted
	w.Header().Set("Cache-Control", "no-store")
	if integrated {
		st.Status, st.Index, status = "integrated", &index, http.StatusOK
		w.Header().Set("Cache-Control", "public, max-age=86400")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(st)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.Fail != nil {
		h.Fail(w, r, err)
		return
	}
	httpio.Problem{Status: httpio.Status(glasshouse.ErrorCode(err)), Code: glasshouse.ErrorCode(err), Message: glasshouse.ErrorMessage(err)}.Write(w)
}
