package web

import (
	"net/http"
	"strconv"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/httpio"
)

// directory serves the public partner directory: every partner that ever
// had an approved agreement, each approved version with its terms, and the
// log index of each change. No sign-in: anyone may read it.
func (s *Server) directory(w http.ResponseWriter, r *http.Request) error {
	d, err := glasshouse.Directory(r.Context(), s.store, s.now())
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, map[string]any{"partners": d})
}

// terms serves the terms document of an approved agreement version: the
// bytes whose SHA-256 the log's approval entry holds (docs/log-format.md).
func (s *Server) terms(w http.ResponseWriter, r *http.Request) error {
	version, err := pathID(r, "version")
	if err != nil {
		return err
	}
	notFound := glasshouse.Errorf(glasshouse.ENOTFOUND, "No approved agreement version %d of partner %q.", version, r.PathValue("client_id"))
	p, err := s.store.PartnerByClientID(r.Context(), r.PathValue("client_id"))
	if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
		return notFound
	} else if err != nil {
		return err
	}
	agreements, err := s.store.Agreements(r.Context(), p.ID)
	if err != nil {
		return err
	}
	for _, a := range agreements {
		if int64(a.Version) == version && !a.ApprovedAt.IsZero() {
			doc := accesslog.TermsOf(p.ClientID, a).Document()
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(doc)))
			_, err := w.Write(doc)
			return err
		}
	}
	return notFound
}
