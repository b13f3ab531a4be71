package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/realtime/natshub"
)

// Hub is the realtime hub a node's streams subscribe to: its own
// (realtime.Hub), or with --nats one fed by every node (natshub.Hub).
type Hub interface {
	glasshouse.Hub
	Len() int
	Close()
}

// newHub returns the hub that the store publishes its commits to. A NATS
// hub starts in joinCluster, once the store it catches up from is open.
func (m *Main) newHub(logger *slog.Logger) Hub {
	if m.Config.NATS == "" {
		return realtime.NewHub(0)
	}
	host, _ := os.Hostname()
	return natshub.New(natshub.Config{URL: m.Config.NATS, Name: "glasshouse " + host, Logger: logger})
}

// nodeCheckInterval is how often a node makes sure it still holds the node
// lock (PostgreSQL frees it with the connection, when restarted).
const nodeCheckInterval = 10 * time.Second

// Several nodes on one database without NATS would each deliver only the
// messages sent through themselves: a member's stream on one node would
// silently miss what was sent through another. So a node refuses to start
// in that case rather than warn: every serving node holds the database's
// node lock (see sqlstore.Store.LockNode), shared with --nats and alone
// without, and a node whose lock conflicts with a running node's stops at
// start with an error that says what to do.
var (
	errNodeAlone = errors.New("another glasshouse node is serving this database: several nodes must all be started " +
		"with --nats (GLASSHOUSE_NATS), or a message sent through one would never reach the streams open on the others")
	errNodeWithoutNATS = errors.New("a glasshouse node without --nats is serving this database: restart it with --nats " +
		"(GLASSHOUSE_NATS) first, or messages sent through it would never reach the streams open here")
)

// joinCluster takes this node's place among the nodes serving the database
// and, with --nats, starts the NATS hub on the store. Close undoes it.
func (m *Main) joinCluster(ctx context.Context, logger *slog.Logger) error {
	nh, withNATS := m.Hub.(*natshub.Hub)
	lock, ok, err := m.Store.LockNode(ctx, withNATS)
	if err != nil {
		return err
	} else if !ok && withNATS {
		return errNodeWithoutNATS
	} else if !ok {
		return errNodeAlone
	}
	m.nodeLock = lock
	if withNATS {
		if err := nh.Start(ctx, m.Store); err != nil {
			return err
		}
		logger.Info("sharing events through NATS", "subject", natshub.DefaultSubject)
	}
	checkCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(nodeCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-checkCtx.Done():
				return
			case <-t.C:
			}
			ok, err := lock.Check(checkCtx)
			switch {
			case checkCtx.Err() != nil:
				return
			case err != nil:
				logger.Warn("node lock", "err", err)
			case !ok:
				err := errNodeAlone
				if withNATS {
					err = errNodeWithoutNATS
				}
				logger.Error("node lock lost while the database was away, and another node took it meanwhile", "err", err)
			}
		}
	}()
	m.stopNodeCheck = func() {
		cancel()
		<-done
	}
	return nil
}

// limitBuckets is where the rate limits keep their buckets: in the
// database that every node shares when this node is one of a cluster
// (--nats), so that a limit holds for the cluster, not per node; in this
// process otherwise (a single node, the only one the node lock lets serve
// the database without NATS).
func (m *Main) limitBuckets() ratelimit.Buckets {
	if m.Config.NATS == "" {
		return nil
	}
	return m.Store
}

// sessionBus carries ended sessions to the other nodes, so that a
// sign-out ends the session's streams on every node at once: the NATS hub
// with --nats, none on a single node.
func (m *Main) sessionBus() glasshouse.SessionBus {
	if bus, ok := m.Hub.(glasshouse.SessionBus); ok {
		return bus
	}
	return nil
}

// degraded names what this node runs without now, for /healthz: NATS,
// while it is away (the other nodes' messages then reach the streams here
// from the database, within about a second).
func (m *Main) degraded() []string {
	if nh, ok := m.Hub.(*natshub.Hub); ok && !nh.Connected() {
		return []string{"nats: disconnected; messages of the other nodes come from the database"}
	}
	return nil
}

// leaveCluster frees this node's place; it is safe to call more than once.
func (m *Main) leaveCluster() {
	if m.stopNodeCheck != nil {
		m.stopNodeCheck()
		m.stopNodeCheck = nil
	}
	m.nodeLock.Release()
}
