package privacy

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/glasshouse/glasshouse/ui"
)

// trail is what a member needs to find their own entries in the log with
// `glasshouse audit trail`, without trusting this server: their tag key,
// their access count, and the command with both filled in.
type trail struct {
	Key     string // base64, as --member-key takes it
	Count   uint64
	Command string
}

// trail returns the member's trail section, or nil when the Center has no
// MemberKey.
func (pc *Center) trail(r *http.Request, memberID int64) (*trail, error) {
	ctx := r.Context()
	if pc.c.MemberKey == nil {
		return nil, nil
	}
	k, err := pc.c.MemberKey(ctx, memberID)
	if err != nil {
		return nil, err
	}
	count, err := pc.store.AccessCount(ctx, memberID)
	if err != nil {
		return nil, err
	}
	t := &trail{Key: base64.StdEncoding.EncodeToString(k[:]), Count: count}
	t.Command = ui.Command("glasshouse", "audit", "trail", ui.Origin(r, pc.c.PublicURL),
		"--member-key", t.Key, "--count", strconv.FormatUint(count, 10))
	return t, nil
}
