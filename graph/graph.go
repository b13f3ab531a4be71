package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/policy"
	"github.com/glasshouse/glasshouse/ratelimit"
)

// Routes of the Graph API.
const (
	RouteMe       = "GET /graph/v1/me"
	RouteFriends  = "GET /graph/v1/me/friends"
	RouteSend     = "POST /graph/v1/me/messages"
	RouteMessages = "GET /graph/v1/me/conversations/{id}/messages"
	routeOther    = "/graph/v1/"
)

// Store is what the Graph API reads from the store outside an access's
// transaction: the secret its ids' keys derive from (at New), and the
// friends and grant a message's recipient is checked against before the
// policy decides. What an access reads and writes goes through the
// glasshouse.Within that Recorder.RecordWith hands it. *sqlstore.Store
// implements it, as does every glasshouse.Store.
type Store interface {
	// glasshouse.FriendStore
	Friends(ctx context.Context, memberID int64) ([]*glasshouse.Member, error)
	// glasshouse.GrantStore
	Grant(ctx context.Context, memberID, partnerID int64) (*glasshouse.Grant, error)
	// glasshouse.OAuthStore
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}

// Every glasshouse.Store is a Store.
var _ Store = glasshouse.Store(nil)

// Verifier is the authorization server, *oauth.Server.
type Verifier interface {
	// Authenticate checks a bearer access token and loads the partner,
	// its agreement in force and the member's live grant. Its errors are
	// *oauth.AccessError (EUNAUTHORIZED invalid_token, or EFORBIDDEN with
	// a reason) or internal. A refusal that also returns the Access with
	// its Token and Partner is recorded; one that returns nil cannot be.
	Authenticate(ctx context.Context, bearer string) (*oauth.Access, error)
	// PairwiseID returns the id under which the partner with clientID
	// knows memberID (the OpenID sub).
	PairwiseID(clientID string, memberID int64) string
}

// Recorder writes access records: one glasshouse.AccessRecord for every
// request that carried a verified token, granted or denied, before any of
// the response is sent. accesslog.Recorder is the real one.
type Recorder interface {
	// RecordWith runs do and writes rec (and its log entry) in ONE
	// transaction, both or neither, and returns a receipt for the
	// Glasshouse-Receipt header ("" for none). If do fails, nothing was
	// written and do's error returns as it is; the refusal is then
	// recorded with Record. Any other error means nothing may be sent:
	// the partner gets 503 and no data.
	RecordWith(ctx context.Context, rec *glasshouse.AccessRecord, do func(context.Context, glasshouse.Within) error) (receipt string, err error)
	// Record writes the record of a refused request, durably, and returns
	// its receipt; the refusal is sent only after it returns. An error
	// means 503.
	Record(ctx context.Context, rec *glasshouse.AccessRecord) (receipt string, err error)
}

// Config wires an API. Store, Verifier and Recorder are required.
type Config struct {
	Store    Store
	Verifier Verifier
	Recorder Recorder
	// Ceiling is the platform ceiling: the data scopes any partner may
	// use at all. Empty allows none.
	Ceiling []string
	Logger  *slog.Logger     // nil discards logs
	Now     func() time.Time // nil means time.Now
	// RateLimit is each partner's token bucket (Now is filled in from
	// Now). Zero Every or Burst mean 50 requests a second with bursts of
	// 100. With RateLimit.Shared, every node of a cluster counts in the
	// same buckets (Name defaults to "graph-partner").
	RateLimit ratelimit.Config
}

// API is the Graph API. Create it with New, mount it with Register.
type API struct {
	store    Store
	verifier Verifier
	recorder Recorder
	ceiling  []string
	log      *slog.Logger
	now      func() time.Time
	limiter  *ratelimit.Limiter
	ids      *ids
}

// New returns the API. It loads (or on first start creates) its key for
// the ids and cursors partners see from the store.
func New(c Config) (*API, error) {
	if c.Store == nil || c.Verifier == nil || c.Recorder == nil {
		return nil, errors.New("graph: Config.Store, Verifier and Recorder are required")
	}
	if len(c.Ceiling) > 0 {
		if err := glasshouse.ValidateScopes(c.Ceiling); err != nil {
			return nil, fmt.Errorf("graph: ceiling: %w", err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RateLimit.Every <= 0 || c.RateLimit.Burst <= 0 {
		c.RateLimit.Every, c.RateLimit.Burst = time.Second/50, 100
	}
	c.RateLimit.Now = c.Now
	if c.RateLimit.Shared != nil && c.RateLimit.Name == "" {
		c.RateLimit.Name = "graph-partner"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := loadIDs(ctx, c.Store)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return &API{
		store:    c.Store,
		verifier: c.Verifier,
		recorder: c.Recorder,
		ceiling:  c.Ceiling,
		log:      c.Logger,
		now:      c.Now,
		limiter:  ratelimit.New(c.RateLimit),
		ids:      ids,
	}, nil
}

// Register mounts the Graph API on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(RouteMe, a.serve(RouteMe, policy.ReadProfile, a.me))
	mux.Handle(RouteFriends, a.serve(RouteFriends, policy.ListFriends, a.friends))
	mux.Handle(RouteSend, a.serve(RouteSend, policy.SendMessage, a.send))
	mux.Handle(RouteMessages, a.serve(RouteMessages, policy.ReadMessages, a.messages))
	// Anything else under /graph/v1/ (an inbox listing, a delete, a
	// friend's email…) is a request the policy has no kind for: it is
	// refused as unknown_request (404), and recorded like any other, so
	// that the log shows a partner's attempts too.
	mux.Handle(routeOther, a.serve(routeOther, "", func(context.Context, *call) (read, error) { return nil, nil }))
}
