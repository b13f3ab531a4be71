package accesslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/posix"
)

// Pending is one outbox row: an access entry committed with its access
// record and not yet in the log.
type Pending struct {
	EventID EventID
	Entry   []byte // the canonical encoding (Entry.MarshalBinary)
}

// Assigned is the log index an event's entry received.
type Assigned struct {
	EventID EventID
	Index   uint64
}

// Outbox is the store's queue of entries waiting for the log. The store
// writes a row in the same transaction as the access record; the feeder is
// its only reader. Implementations must be safe for use by one feeder while
// other goroutines insert rows.
type Outbox interface {
	// Pending returns up to limit rows that are not yet integrated, oldest
	// first (insertion order). It returns an empty slice, not an error, when
	// there are none.
	Pending(ctx context.Context, limit int) ([]Pending, error)
	// Integrated records, in one transaction, each event's log index (on
	// its access record) and removes its outbox row. It MUST be idempotent:
	// an event whose row is already gone (integrated before) is skipped; an
	// event already recorded with a different index is an error (the log
	// would hold it twice). The feeder calls it with events in index order.
	Integrated(ctx context.Context, assigned []Assigned) error
	// LogSize returns one more than the highest index Integrated ever
	// recorded (0 if none): how much of the log the store knows about. On
	// start and after any error, the feeder reads the log's entries from
	// this index on and passes them to Integrated, so that an entry
	// appended just before a crash is recorded instead of appended again.
	LogSize(ctx context.Context) (uint64, error)
}

// Feeder defaults.
const (
	DefaultCheckpointInterval = 2 * time.Second
	DefaultBatchSize          = 4096
	DefaultPollInterval       = 500 * time.Millisecond
	DefaultGather             = 100 * time.Millisecond
)

// FeederConfig configures a Feeder. Zero values take the defaults above.
type FeederConfig struct {
	Dir    string // the log's directory, such as <data>/log; created if absent
	Key    *Key   // the log key; its name is the origin
	Outbox Outbox
	// CheckpointInterval is the shortest time between two checkpoints while
	// entries arrive (default 2 s).
	CheckpointInterval time.Duration
	// BatchSize is how many outbox rows one Feed appends at most.
	BatchSize int
	// PollInterval is how often Run looks at the outbox when not notified.
	PollInterval time.Duration
	// Gather is the shortest time between the starts of two Feeds that
	// Run makes while the outbox holds less than a batch (default 100 ms):
	// under load, entries gather for that long and go into the log and the
	// store as one batch, whose cost per entry is far lower than that of
	// many small ones. The first entries after a quiet spell are fed at
	// once. It adds at most Gather to the time from access to checkpoint.
	Gather time.Duration
	// Witnesses, if not nil, cosign each checkpoint before it is
	// published: Tessera submits it with its consistency proof to each
	// witness and publishes it once the quorum has cosigned. Until then
	// the last cosigned checkpoint stays published; WitnessMonitor (one
	// is made when nil) logs and counts what the witnesses answer.
	Witnesses      *WitnessPolicy
	WitnessMonitor *WitnessMonitor
	// WitnessTimeout is how long one checkpoint waits for the quorum
	// (default Tessera's, 5 s); without it, the checkpoint is dropped and
	// the next one tried at the next CheckpointInterval.
	WitnessTimeout time.Duration
	Logger         *slog.Logger
}

// Feeder moves entries from the Outbox into a Tessera POSIX log, exactly
// once. There must be one feeder per log at a time (a cluster elects it).
type Feeder struct {
	cfg      FeederConfig
	log      *Log
	appender *tessera.Appender
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	wake     chan struct{}
	closed   sync.Once
	closeErr error

	mu     sync.Mutex // serialises Feed
	synced bool       // known is the log size and the store knows it all
	known  uint64
}

// NewFeeder opens (or creates) the Tessera log in cfg.Dir for appending.
// Stop Run first, then call Close.
func NewFeeder(ctx context.Context, cfg FeederConfig) (*Feeder, error) {
	if cfg.Dir == "" || cfg.Key == nil || cfg.Outbox == nil {
		return nil, errors.New("feeder: Dir, Key and Outbox are required")
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Gather <= 0 {
		cfg.Gather = DefaultGather
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("feeder: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Key.Signer).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithBatching(uint(cfg.BatchSize), 10*time.Millisecond).
		WithPushback(uint(4 * cfg.BatchSize))
	var client *http.Client
	if cfg.Witnesses != nil {
		group, err := cfg.Witnesses.tesseraGroup()
		if err != nil {
			return nil, fmt.Errorf("feeder: %w", err)
		}
		if cfg.WitnessMonitor == nil {
			cfg.WitnessMonitor = NewWitnessMonitor(cfg.Witnesses, cfg.Logger)
		}
		client = cfg.WitnessMonitor.client()
		// A new log's first (empty) checkpoint is published by Tessera
		// as it creates the log, and that would fail while no witness
		// knows the log yet: create it without witnesses, so that the
		// server starts and prints its key for the witnesses' operators.
		if err := createLog(ctx, cfg.Dir, cfg.Key); err != nil {
			return nil, err
		}
		opts.WithWitnesses(group, &tessera.WitnessOptions{Timeout: cfg.WitnessTimeout})
	}
	driver, err := posix.New(ctx, posix.Config{Path: cfg.Dir, HTTPClient: client})
	if err != nil {
		return nil, fmt.Errorf("feeder: %w", err)
	}
	// Tessera's background work lives until Close, not until ctx ends.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("feeder: %w", err)
	}
	return &Feeder{
		cfg: cfg, log: OpenLog(cfg.Dir, cfg.Key.Verifier), appender: appender, reader: reader,
		shutdown: shutdown, cancel: cancel, wake: make(chan struct{}, 1),
	}, nil
}

// createLog creates the Tessera log in dir, with its empty checkpoint
// signed by the log key alone, unless dir already holds a log.
func createLog(ctx context.Context, dir string, key *Key) error {
	if _, err := os.Stat(filepath.Join(dir, layout.CheckpointPath)); err == nil {
		return nil
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return fmt.Errorf("feeder: %w", err)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	_, shutdown, _, err := tessera.NewAppender(bg, driver, tessera.NewAppendOptions().WithCheckpointSigner(key.Signer))
	if err != nil {
		return fmt.Errorf("feeder: create the log: %w", err)
	}
	return wrap("feeder: create the log", shutdown(ctx))
}

// Log returns a reader of the feeder's log.
func (f *Feeder) Log() *Log { return f.log }

// IntegratedSize returns how many entries the log holds, published in a
// checkpoint or about to be (within CheckpointInterval).
func (f *Feeder) IntegratedSize(ctx context.Context) (uint64, error) {
	n, err := f.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("feeder: integrated size: %w", err)
	}
	return n, nil
}

// Checkpoint returns the latest published checkpoint.
func (f *Feeder) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	return f.log.Checkpoint(ctx)
}

// Notify wakes Run to look at the outbox now. The store calls it after
// committing an outbox row; it never blocks.
func (f *Feeder) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run feeds the log until ctx ends, then returns nil. Errors are logged and
// retried after a pause; an entry is never appended twice across them.
func (f *Feeder) Run(ctx context.Context) error {
	pause := f.cfg.PollInterval
	var last time.Time // when the last Feed started
	for ctx.Err() == nil {
		if wait := f.cfg.Gather - time.Since(last); wait > 0 {
			sleep(ctx, wait) // let entries gather into one batch
		}
		last = time.Now()
		n, err := f.Feed(ctx)
		if err != nil && ctx.Err() == nil {
			f.cfg.Logger.ErrorContext(ctx, "access log feeder failed; retrying", "err", err, "retry_in", pause)
			pause = min(2*pause, 30*time.Second)
		} else if err == nil {
			pause = f.cfg.PollInterval
		}
		if n == f.cfg.BatchSize && err == nil {
			last = time.Time{}
			continue // a full batch: more are waiting
		}
		select {
		case <-ctx.Done():
		case <-f.wake:
		case <-time.After(pause):
		}
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Feed appends at most one batch of outbox rows to the log and records
// their indexes, returning how many it integrated (0 when the outbox is
// empty). Before appending it makes sure the store knows about every entry
// already in the log (see Outbox.LogSize).
func (f *Feeder) Feed(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reconcile(ctx); err != nil {
		return 0, err
	}
	rows, err := f.cfg.Outbox.Pending(ctx, f.cfg.BatchSize)
	if err != nil || len(rows) == 0 {
		return 0, wrap("feeder: pending", err)
	}
	f.synced = false // until the store has recorded this batch
	futures := make([]tessera.IndexFuture, len(rows))
	for i, r := range rows {
		futures[i] = f.appender.Add(ctx, tessera.NewEntry(r.Entry))
	}
	assigned := make([]Assigned, len(rows))
	for i, fut := range futures {
		idx, err := fut()
		if err != nil {
			return 0, fmt.Errorf("feeder: append: %w", err)
		}
		if want := f.known + uint64(i); idx.Index != want {
			return 0, fmt.Errorf("feeder: append: entry %s got index %d, want %d (another writer on the log?)", rows[i].EventID, idx.Index, want)
		}
		assigned[i] = Assigned{EventID: rows[i].EventID, Index: idx.Index}
	}
	if err := f.cfg.Outbox.Integrated(ctx, assigned); err != nil {
		return 0, fmt.Errorf("feeder: integrated: %w", err)
	}
	f.known += uint64(len(rows))
	f.synced = true
	return len(rows), nil
}

// reconcile makes the store's view match the log: entries in the log past
// the store's LogSize (appended before a crash or an error, but never
// recorded) are passed to Integrated, read back from the entry bundles.
func (f *Feeder) reconcile(ctx context.Context) error {
	size, err := f.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("feeder: integrated size: %w", err)
	}
	if f.synced && size == f.known {
		return nil
	}
	known, err := f.cfg.Outbox.LogSize(ctx)
	if err != nil {
		return fmt.Errorf("feeder: outbox log size: %w", err)
	}
	if known > size {
		return fmt.Errorf("feeder: the store has recorded log index %d but the log in %s holds only %d entries: wrong or truncated log folder", known-1, f.cfg.Dir, size)
	}
	if known < size {
		f.cfg.Logger.WarnContext(ctx, "access log entries not yet recorded in the store; recording them", "from", known, "to", size)
	}
	batch := make([]Assigned, 0, min(size-known, uint64(f.cfg.BatchSize)))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := f.cfg.Outbox.Integrated(ctx, batch); err != nil {
			return fmt.Errorf("feeder: integrated (recovery): %w", err)
		}
		batch = batch[:0]
		return nil
	}
	err = eachEntry(ctx, f.log, known, size, size, func(index uint64, entry []byte) error {
		id, ok := entryEventID(entry)
		if !ok {
			return fmt.Errorf("feeder: log entry %d is not a version %d entry", index, Version)
		}
		batch = append(batch, Assigned{EventID: id, Index: index})
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	f.known, f.synced = size, true
	return nil
}

// Close shuts the appender down: it waits (up to Tessera's shutdown
// timeout or ctx) until a checkpoint covers every appended entry, then
// stops Tessera's background work. Run must have returned. Later calls
// return the first call's result.
func (f *Feeder) Close(ctx context.Context) error {
	f.closed.Do(func() {
		defer f.cancel()
		if err := f.shutdown(ctx); err != nil {
			f.closeErr = fmt.Errorf("feeder: shutdown: %w", err)
		}
	})
	return f.closeErr
}

// eachEntry calls fn for every entry with index in [from, to) of the tree
// of the given size, in order, reading whole bundles.
func eachEntry(ctx context.Context, tr TileReader, from, to, size uint64, fn func(index uint64, entry []byte) error) error {
	for i := from; i < to; {
		bi := i / layout.EntryBundleWidth
		raw, err := tr.ReadEntryBundle(ctx, bi, layout.PartialTileSize(0, bi, size))
		if err != nil {
			return fmt.Errorf("entry bundle %d: %w", bi, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(raw); err != nil {
			return fmt.Errorf("entry bundle %d: %w", bi, err)
		}
		for ; i < to && i/layout.EntryBundleWidth == bi; i++ {
			k := i % layout.EntryBundleWidth
			if k >= uint64(len(b.Entries)) {
				return fmt.Errorf("entry bundle %d: has %d entries, want more than %d", bi, len(b.Entries), k)
			}
			if err := fn(i, b.Entries[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func wrap(prefix string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
