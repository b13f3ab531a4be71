package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/transparency-dev/tessera/api/layout"
)

// maxResource bounds what Remote reads of one resource: a full entry bundle
// of 256 entries of at most 64 KiB each.
const maxResource = 256 * (2 + 1<<16)

// Remote reads a glasshouse log over HTTP: base is the server's URL (the
// log is under base/log/). It implements TileReader.
type Remote struct {
	server string // base URL, no trailing slash
	client *http.Client
}

// NewRemote returns a reader of the log served at baseURL; c nil means
// http.DefaultClient.
func NewRemote(baseURL string, c *http.Client) *Remote {
	if c == nil {
		c = http.DefaultClient
	}
	return &Remote{server: strings.TrimRight(baseURL, "/"), client: c}
}

// ReadTerms returns the terms document of an approved agreement version
// (glasshouse.TermsPath), whose SHA-256 its approval entry holds.
func (r *Remote) ReadTerms(ctx context.Context, clientID string, version int) ([]byte, error) {
	return r.fetch(ctx, r.server+glasshouse.TermsPath(clientID, version))
}

// ReadCheckpoint returns the raw signed checkpoint.
func (r *Remote) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return r.get(ctx, layout.CheckpointPath)
}

// ReadVerifierKey returns the verifier key the server publishes.
func (r *Remote) ReadVerifierKey(ctx context.Context) (string, error) {
	b, err := r.get(ctx, "key")
	return strings.TrimSpace(string(b)), err
}

// ReadTile implements TileReader.
func (r *Remote) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := r.partialOrFull(ctx, p, func(p uint8) string { return layout.TilePath(level, index, p) })
	if err == nil && p > 0 && len(b) > int(p)*32 {
		b = b[:int(p)*32] // the full tile, after the partial one was removed
	}
	return b, err
}

// ReadEntryBundle implements TileReader. After a fallback to the full
// bundle it returns the whole bundle; callers use the first p entries.
func (r *Remote) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return r.partialOrFull(ctx, p, func(p uint8) string { return layout.EntriesPath(index, p) })
}

func (r *Remote) partialOrFull(ctx context.Context, p uint8, path func(uint8) string) ([]byte, error) {
	b, err := r.get(ctx, path(p))
	if p > 0 && errors.Is(err, fs.ErrNotExist) {
		return r.get(ctx, path(0))
	}
	return b, err
}

// get fetches base/log/p; a 404 wraps fs.ErrNotExist.
func (r *Remote) get(ctx context.Context, p string) ([]byte, error) {
	return r.fetch(ctx, r.server+"/log/"+p)
}

// fetch GETs the URL u; a 404 wraps fs.ErrNotExist.
func (r *Remote) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResource+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("get %s: %w", u, fs.ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("get %s: status %s", u, resp.Status)
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", u, err)
	case len(b) > maxResource:
		return nil, fmt.Errorf("get %s: larger than %d bytes", u, maxResource)
	}
	return b, nil
}

// fetchOrdered fetches resources first..last-1 with get, at most 2*workers
// ahead of the reader, and returns the function that hands them out in
// order, next(first), next(first+1), …, and the one that stops the
// fetching (call it when done).
func fetchOrdered[T any](ctx context.Context, first, last uint64, workers int, get func(context.Context, uint64) (T, error)) (next func(uint64) (T, error), stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		v   T
		err error
	}
	n := last - first
	if last < first {
		n = 0
	}
	slots := make([]chan result, n)
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	window := make(chan struct{}, 2*workers)
	go func() {
		for i := range n {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				v, err := get(ctx, first+i)
				slots[i] <- result{v, err}
			}()
		}
	}()
	return func(i uint64) (T, error) {
		select {
		case r := <-slots[i-first]:
			<-window
			return r.v, r.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}, cancel
}
