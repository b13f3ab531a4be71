package transparency

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/ui"
)

//go:embed pages
var pagesFS embed.FS

// Latest is how many of the newest entries the page shows.
const Latest = 20

// Log is the transparency log as the page reads it. *accesslog.Log
// implements it.
type Log interface {
	accesslog.TileReader
	// Checkpoint returns the latest checkpoint, its signature checked; an
	// error wrapping fs.ErrNotExist before the first.
	Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error)
}

// Config wires the page. Kit, Log and VerifierKey are required.
type Config struct {
	Kit         *ui.Kit
	Log         Log
	VerifierKey string // the log's verifier key in note form, as /log/key serves it
	// Partners names the partners of the entries, and is what the
	// partner directory (/partners) reads. Required.
	Partners Partners
	// PublicURL is the origin the commands name (--public-url); "" means
	// the one the request came to.
	PublicURL string
	Logger    *slog.Logger // nil discards logs
}

// Partners is what the pages read about partners.
type Partners interface {
	accesslog.PartnerNames
	glasshouse.DirectoryStore
}

// Page serves /log and /partners. Create it with New.
type Page struct {
	c         Config
	page      *template.Template
	directory *template.Template
}

// New returns the page. It panics if a required field is missing or the
// template does not parse (programming errors any test catches).
func New(c Config) *Page {
	if c.Kit == nil || c.Log == nil || c.VerifierKey == "" || c.Partners == nil {
		panic("transparency: Config.Kit, Log, VerifierKey and Partners are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := c.Kit.Pages(pagesFS, template.FuncMap{"join": strings.Join}, "pages/*.html")
	if err != nil {
		panic(err)
	}
	return &Page{c: c, page: pages["log"], directory: pages["partners"]}
}

// Mount registers GET /log, /log/ as a redirect to it, and GET /partners.
func (p *Page) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /log", p.serve)
	mux.HandleFunc("GET /log/{$}", func(w http.ResponseWriter, r *http.Request) { ui.Redirect(w, r, "/log") })
	mux.HandleFunc("GET /partners", p.serveDirectory)
}

// serveDirectory serves the public partner directory: every partner that
// ever had an approved agreement, its versions, and their log entries.
func (p *Page) serveDirectory(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	partners, err := glasshouse.Directory(ctx, p.c.Partners, time.Now())
	if err != nil {
		p.c.Logger.ErrorContext(ctx, "partner directory", "err", err)
		p.c.Kit.Fail(w, r, err)
		return
	}
	d := struct {
		Partners []glasshouse.DirectoryPartner
		Report   string
	}{partners, p.reportCommand(r)}
	p.c.Kit.Render(w, r, p.directory, http.StatusOK, &ui.Page{Section: "partners", Member: p.c.Kit.Member(r), Data: d})
}

// reportCommand is the audit report command for this site.
func (p *Page) reportCommand(r *http.Request) string {
	return ui.Command("glasshouse", "audit", "report", ui.Origin(r, p.c.PublicURL), "--key", p.c.VerifierKey)
}

// entry is one decoded entry of the log, of either kind: an access
// (Access set) or an agreement change (Agreement set).
type entry struct {
	Index     uint64
	Partner   string // the partner's name; "" when unknown
	Access    *accesslog.Entry
	Agreement *accesslog.AgreementEntry
}

// PartnerID is the client id the entry names.
func (e entry) PartnerID() string {
	if e.Agreement != nil {
		return e.Agreement.PartnerID
	}
	return e.Access.PartnerID
}

// Granted reports whether the policy allowed the request.
func (e entry) Granted() bool { return e.Access != nil && e.Access.Decision == accesslog.Granted }

// data is what the page shows.
type data struct {
	Checkpoint  *accesslog.Checkpoint // nil before the log's first
	Root        string                // the root hash in base64
	VerifierKey string
	Entries     []entry // newest first
	Verify      string  // the commands to check the log
	Report      string
}

func (p *Page) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := data{VerifierKey: p.c.VerifierKey}
	origin := ui.Origin(r, p.c.PublicURL)
	d.Verify = ui.Command("glasshouse", "audit", "verify", origin, "--key", p.c.VerifierKey)
	d.Report = p.reportCommand(r)
	cp, err := p.c.Log.Checkpoint(ctx)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.c.Logger.ErrorContext(ctx, "log page: checkpoint", "err", err)
		p.c.Kit.Fail(w, r, glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The log's checkpoint cannot be read right now. Try again in a moment."))
		return
	}
	if cp != nil {
		d.Checkpoint, d.Root = cp, base64.StdEncoding.EncodeToString(cp.Hash[:])
		if d.Entries, err = p.latest(ctx, cp.Size); err != nil {
			p.c.Logger.ErrorContext(ctx, "log page: entries", "err", err)
			p.c.Kit.Fail(w, r, glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The log's entries cannot be read right now. Try again in a moment."))
			return
		}
	}
	p.c.Kit.Render(w, r, p.page, http.StatusOK, &ui.Page{Section: "log", Member: p.c.Kit.Member(r), Data: d})
}

// latest reads and decodes the newest entries of the tree of size.
func (p *Page) latest(ctx context.Context, size uint64) ([]entry, error) {
	names := map[string]string{}
	var out []entry
	for i := size; i > 0 && size-i < Latest; i-- {
		b, err := accesslog.ReadEntry(ctx, p.c.Log, i-1, size)
		if err != nil {
			return nil, err
		}
		d, err := accesslog.DecodeAny(b)
		if err != nil {
			return nil, err
		}
		e := entry{Index: i - 1, Access: d.Access, Agreement: d.Agreement}
		name, ok := names[e.PartnerID()]
		if !ok {
			pt, err := p.c.Partners.PartnerByClientID(ctx, e.PartnerID())
			if err == nil {
				name = pt.Name
			} else if glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
				return nil, err
			}
			names[e.PartnerID()] = name
		}
		e.Partner = name
		out = append(out, e)
	}
	return out, nil
}
