package accesslog

import (
	"container/list"
	"sync"
)

// memberKeys keeps the most recently used members' keys, so that a busy
// member's requests do not each pay for HKDF. The master key never changes
// for the life of a Recorder, so a cached key never goes stale.
type memberKeys struct {
	master []byte
	size   int

	mu    sync.Mutex
	byID  map[int64]*list.Element // of *cachedKey
	order *list.List              // most recently used first
}

type cachedKey struct {
	memberID int64
	key      MemberKey
}

// memberKeyCacheSize is how many members' keys a Recorder keeps (32 bytes
// each, plus bookkeeping: well under 1 MiB).
const memberKeyCacheSize = 8192

func newMemberKeys(master []byte, size int) *memberKeys {
	return &memberKeys{master: master, size: size, byID: make(map[int64]*list.Element), order: list.New()}
}

// get returns memberID's key, from the cache or derived.
func (c *memberKeys) get(memberID int64) (MemberKey, error) {
	c.mu.Lock()
	if e, ok := c.byID[memberID]; ok {
		c.order.MoveToFront(e)
		k := e.Value.(*cachedKey).key
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()
	k, err := DeriveMemberKey(c.master, memberID)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[memberID]; !ok {
		c.byID[memberID] = c.order.PushFront(&cachedKey{memberID: memberID, key: k})
		if c.order.Len() > c.size {
			oldest := c.order.Remove(c.order.Back()).(*cachedKey)
			delete(c.byID, oldest.memberID)
		}
	}
	return k, nil
}
