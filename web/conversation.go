package web

import (
	"math"
	"net/http"
	"net/url"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

// newConversation is the body of POST /conversations: kind "direct" with
// With, or kind "group" with Title and Members.
type newConversation struct {
	Kind    string   `json:"kind"`
	With    string   `json:"with"`
	Title   string   `json:"title"`
	Members []string `json:"members"`
}

// createConversation opens a direct conversation (201 when created, 200
// when it existed) or creates a group (201).
func (s *Server) createConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	var in newConversation
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	switch in.Kind {
	case glasshouse.Direct:
		if in.Title != "" || in.Members != nil {
			return glasshouse.Errorf(glasshouse.EINVALID, "A direct conversation takes \"with\" only.")
		}
		if err := glasshouse.ValidateHandle(in.With); err != nil {
			return err
		}
		conv, created, err := s.store.CreateDirect(r.Context(), c.memberID, in.With)
		if err != nil {
			return err
		} else if created {
			return httpio.WriteJSON(w, http.StatusCreated, conv)
		}
		return httpio.WriteJSON(w, http.StatusOK, conv)
	case glasshouse.Group:
		if in.With != "" {
			return glasshouse.Errorf(glasshouse.EINVALID, "A group takes \"title\" and \"members\", not \"with\".")
		}
		g := glasshouse.NewGroup{Title: in.Title, Members: in.Members}
		if err := g.Validate(); err != nil {
			return err
		}
		conv, err := s.store.CreateGroup(r.Context(), c.memberID, g)
		if err != nil {
			return err
		}
		return httpio.WriteJSON(w, http.StatusCreated, conv)
	}
	return glasshouse.Errorf(glasshouse.EINVALID, "Kind must be %q or %q.", glasshouse.Direct, glasshouse.Group)
}

func (s *Server) conversations(w http.ResponseWriter, r *http.Request, c caller) error {
	convs, err := s.store.Conversations(r.Context(), c.memberID)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, nonNil(convs))
}

func (s *Server) conversation(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	conv, err := s.store.Conversation(r.Context(), c.memberID, id)
	if err != nil {
		return err
	}
	return httpio.WriteJSON(w, http.StatusOK, conv)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	handle, err := decodeHandle(w, r)
	if err != nil {
		return err
	}
	if err := s.store.AddMember(r.Context(), c.memberID, id, handle); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.store.Leave(r.Context(), c.memberID, id); err != nil {
		return err
	}
	return noContent(w)
}

// sendMessage stores a message (201), or returns the stored one for a
// repeat of the same client_txn_id (200).
func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in glasshouse.NewMessage
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	in.ConversationID, in.SenderID = id, c.memberID
	if err := in.Validate(); err != nil {
		return err
	}
	msg, created, err := s.store.SendMessage(r.Context(), in)
	if err != nil {
		return err
	} else if !created {
		return httpio.WriteJSON(w, http.StatusOK, msg)
	}
	s.metrics.messagesSent.Inc()
	return httpio.WriteJSON(w, http.StatusCreated, msg)
}

// messages returns one page of history: ?before=SEQ (older, newest first),
// ?after=SEQ (newer, oldest first) or neither (the newest), ?limit=N.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := messageQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.ConversationID, q.MemberID = id, c.memberID
	page, err := s.store.Messages(r.Context(), q)
	if err != nil {
		return err
	}
	page.Messages = nonNil(page.Messages)
	return httpio.WriteJSON(w, http.StatusOK, page)
}

// messageQuery reads a history page's query: before or after (not both),
// and limit.
func messageQuery(query url.Values) (glasshouse.MessageQuery, error) {
	if query.Has("before") && query.Has("after") {
		return glasshouse.MessageQuery{}, glasshouse.Errorf(glasshouse.EINVALID, "Use before or after, not both.")
	}
	var q glasshouse.MessageQuery
	var limit int64
	var err error
	if q.Before, err = queryInt(query, "before", 1, math.MaxInt64, 0); err != nil {
		return glasshouse.MessageQuery{}, err
	} else if q.After, err = queryInt(query, "after", 0, math.MaxInt64, 0); err != nil {
		return glasshouse.MessageQuery{}, err
	} else if limit, err = queryInt(query, "limit", 1, glasshouse.MaxPageSize, glasshouse.DefaultPageSize); err != nil {
		return glasshouse.MessageQuery{}, err
	}
	q.Limit = int(limit)
	q.Forward = query.Has("after")
	return q, nil
}

type readMarker struct {
	Seq int64 `json:"seq"`
}

// markRead moves the caller's read marker forward.
func (s *Server) markRead(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in readMarker
	if err := httpio.Decode(w, r, &in); err != nil {
		return err
	}
	if in.Seq < 1 {
		return glasshouse.Errorf(glasshouse.EINVALID, "Seq must be a positive integer.")
	}
	if err := s.store.MarkRead(r.Context(), c.memberID, id, in.Seq); err != nil {
		return err
	}
	return noContent(w)
}

// deleteForMe hides one message from the caller only.
func (s *Server) deleteForMe(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	seq, err := pathID(r, "seq")
	if err != nil {
		return err
	}
	if err := s.store.DeleteForMe(r.Context(), c.memberID, id, seq); err != nil {
		return err
	}
	return noContent(w)
}

// queryInt reads an optional integer query parameter in [min, max], in
// canonical decimal (httpio.ParseInt).
func queryInt(query url.Values, name string, min, max, def int64) (int64, error) {
	if !query.Has(name) {
		return def, nil
	}
	v, ok := httpio.ParseInt(query.Get(name), min, max)
	if !ok {
		return 0, glasshouse.Errorf(glasshouse.EINVALID, "Query parameter %s must be an integer from %d to %d, in decimal without sign or leading zeros.", name, min, max)
	}
	return v, nil
}
