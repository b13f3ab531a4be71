package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Config tunes a Store. Its zero value is usable.
type Config struct {
	// Now tells the time of writes; nil means time.Now.
	Now func() time.Time
	// Publisher receives each committed message's Event, in commit order;
	// nil means events are not published.
	Publisher glasshouse.Publisher
	// SessionTTL is the lifetime of a session created without ExpiresAt;
	// zero means 30 days.
	SessionTTL time.Duration
	// MaxBatch caps how many queued writes share one transaction; zero
	// means 512.
	MaxBatch int
	// KeyEncryptionKey, 32 bytes, wraps each member's secret (see
	// glasshouse.AccountStore), from which their message bodies are
	// encrypted. Keep it outside the database: then a copy of the database
	// reveals no message. nil means a random key that the store keeps in
	// its own secrets table: deleting an account still makes its messages
	// unreadable, but a copy of the database holds every key it needs.
	// Once a database holds secrets, Open refuses another key (see
	// ErrKEKMismatch).
	KeyEncryptionKey []byte
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 30 * 24 * time.Hour
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 512
	}
	c.KeyEncryptionKey = bytes.Clone(c.KeyEncryptionKey) // the caller may reuse its slice
	return c
}

// Store is glasshouse.Store on a SQL database. Create it with Open (or
// sqlite.Open, postgres.Open); it is safe for concurrent use.
type Store struct {
	writer  *pool // used by the writer goroutine only
	reader  *pool
	dialect Dialect
	cfg     Config

	mu      sync.RWMutex // guards closed and sends on queue
	closed  bool
	queue   chan *op
	stopped chan struct{} // closed when the writer goroutine has returned

	stopCheckpoints func() // stops the checkpoint goroutine and waits for it

	recipients recipientCache // conversation members, for sends
	feederHeld atomic.Bool    // LockFeeder's lock where the dialect has none
	keys       keyring        // the key-encryption key and member secrets
}

// CheckpointInterval is how often a Store runs Dialect.Checkpoint.
const CheckpointInterval = 200 * time.Millisecond

var _ glasshouse.Store = (*Store)(nil)

// errClosed is returned for writes submitted after Close.
var errClosed = glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The store is closed.")

// Open migrates the database and returns a Store that writes through writer
// and reads through reader (which may be the same *sql.DB). The Store owns
// both from then on and closes them in Close; if Open fails, the caller
// closes them.
func Open(ctx context.Context, writer, reader *sql.DB, d Dialect, cfg Config) (*Store, error) {
	if d.IsUniqueViolation == nil {
		return nil, fmt.Errorf("open %s store: dialect has no IsUniqueViolation", d.Name)
	}
	if k := cfg.KeyEncryptionKey; k != nil && len(k) != kekSize {
		return nil, fmt.Errorf("open %s store: key-encryption key of %d bytes, want %d", d.Name, len(k), kekSize)
	}
	cfg = cfg.withDefaults()
	if err := migrate(ctx, writer, d, cfg.Now); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", d.Name, err)
	}
	s := &Store{
		writer:  newPool(writer, d),
		reader:  newPool(reader, d),
		dialect: d,
		cfg:     cfg,
		queue:   make(chan *op, 2*cfg.MaxBatch),
		stopped: make(chan struct{}),
	}
	go s.runWriter()
	s.stopCheckpoints = s.startCheckpoints()
	// A configured key is checked now, so that a wrong one stops the
	// start, not every read of a message.
	if cfg.KeyEncryptionKey != nil {
		if err := s.loadKEK(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open %s store: %w", d.Name, err)
		}
	}
	return s, nil
}

// startCheckpoints runs the dialect's checkpoint statement on the readers'
// pool every CheckpointInterval until the returned function is called. A
// failed checkpoint is retried at the next tick; the database stays correct
// without them, only its log grows.
func (s *Store) startCheckpoints() (stop func()) {
	if s.dialect.Checkpoint == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(CheckpointInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.reader.db.ExecContext(ctx, s.dialect.Checkpoint)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// Close finishes every queued write, stops the writer and closes the
// databases. Writes submitted after Close fail with EUNAVAILABLE.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()

	<-s.stopped
	s.stopCheckpoints()
	err := errors.Join(s.writer.closeStmts(), s.reader.closeStmts(), s.writer.db.Close())
	if s.reader.db != s.writer.db {
		err = errors.Join(err, s.reader.db.Close())
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", s.dialect.Name, err)
	}
	return nil
}

// Ping checks that both the writer's and the readers' database answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect.Name, err)
	}
	if err := s.reader.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect.Name, err)
	}
	return nil
}

// DBStats adds up the connection pool figures of the writer and the readers,
// for metrics.
func (s *Store) DBStats() sql.DBStats {
	st := s.writer.db.Stats()
	if s.reader.db == s.writer.db {
		return st
	}
	r := s.reader.db.Stats()
	st.MaxOpenConnections += r.MaxOpenConnections
	st.OpenConnections += r.OpenConnections
	st.InUse += r.InUse
	st.Idle += r.Idle
	st.WaitCount += r.WaitCount
	st.WaitDuration += r.WaitDuration
	st.MaxIdleClosed += r.MaxIdleClosed
	st.MaxIdleTimeClosed += r.MaxIdleTimeClosed
	st.MaxLifetimeClosed += r.MaxLifetimeClosed
	return st
}

// now returns the current time at the precision the database keeps.
func (s *Store) now() time.Time { return fromMicros(micros(s.cfg.Now())) }

// view runs fn in a read-only transaction on the readers' pool, so that
// every query of fn sees the same snapshot.
func (s *Store) view(ctx context.Context, fn func(t *tx) error) error {
	opts := s.dialect.ReadTx
	conn, sqlTx, err := begin(ctx, s.reader.db, &opts)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer s.reader.prepareMissed()
	defer conn.Close()
	defer sqlTx.Rollback()
	if err := fn(&tx{ctx: ctx, s: s, pool: s.reader, sqlTx: sqlTx, pl: &pipeline{conn: conn}}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("end read: %w", err)
	}
	return nil
}

// read returns a tx for single queries on the readers' pool, outside any
// transaction.
func (s *Store) read(ctx context.Context) *tx {
	return &tx{ctx: ctx, s: s, pool: s.reader}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
