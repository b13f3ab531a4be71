package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/demoapp"
	"github.com/glasshouse/glasshouse/internal/atomicfile"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/password"
)

// demoMember is one seeded member; the password is printed at start.
type demoMember struct{ handle, name, password string }

var demoMembers = []demoMember{
	{"alice", "Alice Martin", "alice-demo-password"},
	{"bob", "Bob Okafor", "bob-demo-password"},
	{"carol", "Carol Nguyen", "carol-demo-password"},
	{"dave", "Dave Schmidt", "dave-demo-password"},
}

var demoFriendships = [][2]string{{"alice", "bob"}, {"alice", "carol"}, {"bob", "carol"}, {"carol", "dave"}}

// seedDemo creates the demo world. Every step checks what exists first, so a
// restart (or a restart after a crash half-way) seeds nothing twice.
func seedDemo(ctx context.Context, s glasshouse.Store, out io.Writer) error {
	ids := map[string]int64{}
	for _, d := range demoMembers {
		m, err := s.MemberByHandle(ctx, d.handle)
		if glasshouse.ErrorCode(err) == glasshouse.ENOTFOUND {
			m = &glasshouse.Member{Handle: d.handle, DisplayName: d.name, Email: d.handle + "@example.org", Visibility: glasshouse.DefaultVisibility}
			err = s.CreateMember(ctx, m, password.Hash(d.password))
		}
		if err != nil {
			return fmt.Errorf("member %s: %w", d.handle, err)
		}
		ids[d.handle] = m.ID
	}
	for _, f := range demoFriendships {
		if ok, err := s.AreFriends(ctx, ids[f[0]], ids[f[1]]); err != nil {
			return err
		} else if ok {
			continue
		}
		// The other side's request makes them friends if one is pending.
		if _, err := s.RequestFriend(ctx, ids[f[0]], f[1]); err != nil && glasshouse.ErrorCode(err) != glasshouse.ECONFLICT {
			return fmt.Errorf("friends %s-%s: %w", f[0], f[1], err)
		}
		if _, err := s.RequestFriend(ctx, ids[f[1]], f[0]); err != nil && glasshouse.ErrorCode(err) != glasshouse.ECONFLICT {
			return fmt.Errorf("friends %s-%s: %w", f[1], f[0], err)
		}
	}
	direct, _, err := s.CreateDirect(ctx, ids["alice"], "bob")
	if err != nil {
		return fmt.Errorf("direct conversation: %w", err)
	}
	group, err := demoGroup(ctx, s, ids["alice"])
	if err != nil {
		return err
	}
	lines := []struct {
		conv int64
		from string
		text string
	}{
		{direct.ID, "alice", "Hi Bob! Are you coming on Saturday?"},
		{direct.ID, "bob", "Yes! Shall I bring anything?"},
		{direct.ID, "alice", "Just yourself. And maybe snacks."},
		{group.ID, "alice", "Movie night at mine, Saturday 8pm. Suggestions?"},
		{group.ID, "carol", "Something with subtitles, please."},
		{group.ID, "bob", "I'll bring popcorn."},
	}
	for i, l := range lines {
		_, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: l.conv, SenderID: ids[l.from], Text: l.text, ClientTxnID: fmt.Sprintf("demo-seed-%d", i)})
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	// alice runs the platform too, so that the demo shows /admin.
	if err := s.SetOperator(ctx, ids["alice"], true); err != nil && glasshouse.ErrorCode(err) != glasshouse.ECONFLICT {
		return fmt.Errorf("operator alice: %w", err)
	}
	fmt.Fprintln(out, "Demo members (handle / password; alice is also an operator, at /admin):")
	for _, d := range demoMembers {
		fmt.Fprintf(out, "  %-6s %s\n", d.handle, d.password)
	}
	return nil
}

// demoGroup returns alice's "Movie night" group, creating it once.
func demoGroup(ctx context.Context, s glasshouse.Store, alice int64) (*glasshouse.Conversation, error) {
	const title = "Movie night"
	cs, err := s.Conversations(ctx, alice)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Kind == glasshouse.Group && c.Title == title {
			return c, nil
		}
	}
	return s.CreateGroup(ctx, alice, glasshouse.NewGroup{Title: title, Members: []string{"bob", "carol"}})
}

// demoPartnersFile keeps the demo apps' client credentials in the data
// folder (readable by the owner only), so that a restart reuses them.
const demoPartnersFile = "demo-partners.json"

type demoPartners struct {
	Platform string                         `json:"platform"`
	Apps     map[string]demoapp.Credentials `json:"apps"`
}

// seedDemoPartners registers and approves the demo apps once, as an operator
// would with `glasshouse partner create` and `approve`, for the platform at
// base. It returns their credentials and the slugs of the apps registered
// now, or nil with a warning printed when the data folder's apps were
// registered for another address (their redirect URIs would not match).
func seedDemoPartners(ctx context.Context, s glasshouse.PartnerStore, data, base string, out io.Writer) (creds map[string]demoapp.Credentials, created []string, err error) {
	path := filepath.Join(data, demoPartnersFile)
	var saved demoPartners
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &saved); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if saved.Platform != base {
			fmt.Fprintf(out, "Demo apps were registered for %s; serve there (or use a fresh --data) to use them.\n", saved.Platform)
			return nil, nil, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if saved.Apps == nil {
		saved = demoPartners{Platform: base, Apps: map[string]demoapp.Credentials{}}
	}
	now := time.Now()
	for _, a := range demoapp.Apps {
		if _, ok := saved.Apps[a.Slug]; ok {
			continue
		}
		// Client ids are public identifiers: the demo's are the apps' names,
		// so that `glasshouse audit report URL --partner streamflix` reads
		// naturally. Secrets stay random.
		_, secret := oauth.NewClientCredentials()
		id := a.Slug
		np := glasshouse.NewPartner{Name: a.Name, RedirectURIs: []string{demoapp.RedirectURI(base, a.Slug)}, Scopes: a.Scopes,
			Purpose: a.Purpose, RetentionDays: 30, ExpiresAt: now.AddDate(1, 0, 0)}
		if err := np.Validate(now); err != nil {
			return nil, nil, fmt.Errorf("demo app %s: %w", a.Name, err)
		}
		if _, err := s.CreatePartner(ctx, np, id, oauth.HashSecret(secret)); err != nil {
			return nil, nil, fmt.Errorf("demo app %s: %w", a.Name, err)
		}
		if _, err := s.ApproveAgreement(ctx, id, now); err != nil {
			return nil, nil, fmt.Errorf("demo app %s: %w", a.Name, err)
		}
		saved.Apps[a.Slug] = demoapp.Credentials{ClientID: id, ClientSecret: secret}
		created = append(created, a.Slug)
		// Saved after each app. A crash between CreatePartner and this
		// write leaves an orphan partner (its secret was never saved); the
		// next start registers the app again.
		b, _ := json.MarshalIndent(saved, "", "  ")
		if err := atomicfile.Write(path, b, 0o600); err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(out, "Demo partner apps: %s/demo/\n", base)
	fmt.Fprintf(out, "Their client credentials, to sign in at %s/developers (also in %s):\n", base, path)
	for _, a := range demoapp.Apps {
		fmt.Fprintf(out, "  %-10s %s\n", saved.Apps[a.Slug].ClientID, saved.Apps[a.Slug].ClientSecret)
	}
	return saved.Apps, created, nil
}

// startDemo seeds the demo world into m's store, once, and returns the
// demo apps' routes (none when the data folder's apps were registered for
// another address).
func startDemo(ctx context.Context, m *Main, logger *slog.Logger) ([]func(*http.ServeMux), error) {
	if err := seedDemo(ctx, m.Store, m.Stdout); err != nil {
		return nil, fmt.Errorf("seed demo: %w", err)
	}
	creds, created, err := seedDemoPartners(ctx, m.Store, m.Config.Data, m.URL(), m.Stdout)
	if err != nil {
		return nil, fmt.Errorf("seed demo partners: %w", err)
	}
	if err := seedDemoUsers(ctx, m.Store, m.OAuth, created); err != nil {
		return nil, fmt.Errorf("seed demo users: %w", err)
	}
	if creds == nil {
		return nil, nil
	}
	apps := demoapp.New(demoapp.Config{Platform: m.URL(), Credentials: creds, Logger: logger, SecureCookies: m.Config.Secure})
	return []func(*http.ServeMux){apps.Register}, nil
}

// demoUsers are the members who already use a demo app when the demo
// starts, with the scopes they granted it: bob and carol share their names
// and friends with Streamflix, so that a member who connects it can share
// a film with them at once.
var demoUsers = []struct {
	app     string
	members []string
	scopes  []string
}{
	{"streamflix", []string{"bob", "carol"}, []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend}},
}

// seedDemoUsers gives the demo users their grants, for the apps registered
// in this start (created) only: a member who later disconnects an app stays
// disconnected across restarts.
func seedDemoUsers(ctx context.Context, s glasshouse.Store, consent *oauth.Server, created []string) error {
	for _, u := range demoUsers {
		if !slices.Contains(created, u.app) {
			continue
		}
		for _, handle := range u.members {
			m, err := s.MemberByHandle(ctx, handle)
			if err != nil {
				return fmt.Errorf("demo user %s: %w", handle, err)
			}
			if err := consent.SeedGrant(ctx, m.ID, u.app, u.scopes); err != nil {
				return fmt.Errorf("demo user %s of %s: %w", handle, u.app, err)
			}
		}
	}
	return nil
}
