package privacy

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
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
	t.Command = strings.Join([]string{"glasshouse audit trail", shellWord(pc.publicURL(r)),
		"--member-key", shellWord(t.Key), "--count", strconv.FormatUint(count, 10)}, " ")
	return t, nil
}

// publicURL is the server's origin as the member reaches it.
func (pc *Center) publicURL(r *http.Request) string {
	if pc.c.PublicURL != "" {
		return strings.TrimRight(pc.c.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// shellWord quotes s for a POSIX shell when it holds anything but the
// characters of URLs and base64 that no shell treats specially.
func shellWord(s string) string {
	safe := func(c rune) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+-./:=@_%,", c)
	}
	if s != "" && strings.IndexFunc(s, func(c rune) bool { return !safe(c) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
