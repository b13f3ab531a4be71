package export

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

//go:embed templates
var templates embed.FS

var funcs = map[string]any{
	"when": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"join": strings.Join,
	"sub":  func(a, b int) int { return a - b },
	"visibility": func(v glasshouse.Visibility) string {
		if v == glasshouse.VisibleToFriends {
			return "you and your friends"
		}
		return "only you"
	},
}

var (
	indexHTML = htmltemplate.Must(htmltemplate.New("").Funcs(funcs).ParseFS(templates, "templates/index.html"))
	readmeTxt = texttemplate.Must(texttemplate.New("").Funcs(funcs).ParseFS(templates, "templates/README.txt"))
)

// page is what index.html and README.txt summarise.
type page struct {
	Me            *glasshouse.Member
	At            time.Time
	Friends       *friends
	Grants        []grantView
	Conversations []conversationView
	Messages      int // in all conversations
	Access        accessSummary
	HasLog        bool
	Checkpoint    *accesslog.Checkpoint
}

func (r *run) page() *page {
	p := &page{
		Me: r.me, At: r.at, Friends: r.friends, Grants: r.grants, Conversations: r.conversations,
		Access: r.access, HasLog: r.log != nil, Checkpoint: r.cp,
	}
	for _, c := range r.conversations {
		p.Messages += c.Messages
	}
	return p
}

func (r *run) writeReadme() error {
	w, err := r.create(readmeFile)
	if err != nil {
		return err
	}
	if err := readmeTxt.ExecuteTemplate(w, "README.txt", r.page()); err != nil {
		return fmt.Errorf("export: %s: %w", readmeFile, err)
	}
	return nil
}

// messageView is one message in index.html.
type messageView struct {
	*glasshouse.Message
	Mine bool
}

// writeIndex writes index.html, the readable summary of every other file.
// It reads the messages and access events a second time, one page at a
// time, up to the last that the JSON files held, and executes one template
// per piece: each piece is complete HTML text, so html/template escapes
// each alone.
func (r *run) writeIndex() error {
	w, err := r.create(indexFile)
	if err != nil {
		return err
	}
	p := r.page()
	exec := func(name string, data any) error { return indexHTML.ExecuteTemplate(w, name, data) }
	err = exec("head", p)
	if err == nil {
		err = exec("access", p)
	}
	if err == nil {
		err = r.eachAccess(r.access.Last, func(recs []*glasshouse.AccessRecord) error {
			view := r.view()
			for _, rec := range recs {
				ev, err := view.Event(r.ctx, rec, false)
				if err != nil {
					return err
				}
				if err := exec("access-row", ev); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = exec("access-end", p)
	}
	for i := 0; err == nil && i < len(r.conversations); i++ {
		c := r.conversations[i]
		if err = exec("conversation", c); err != nil {
			break
		}
		if c.Messages > 0 {
			err = r.eachMessage(c.ID, c.lastSeq, func(m *glasshouse.Message) error {
				return exec("message", messageView{Message: m, Mine: m.SenderID == r.me.ID})
			})
		}
		if err == nil {
			err = exec("conversation-end", c)
		}
	}
	if err == nil {
		err = exec("foot", p)
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", indexFile, err)
	}
	return nil
}
