package accesslog

// MemberKeyCache exposes a Recorder's member key cache to the tests.
type MemberKeyCache = memberKeys

// NewMemberKeyCache returns a cache of at most size keys.
func NewMemberKeyCache(master []byte, size int) *MemberKeyCache { return newMemberKeys(master, size) }

// Get returns memberID's key.
func (c *MemberKeyCache) Get(memberID int64) (MemberKey, error) { return c.get(memberID) }

// Len returns how many keys the cache holds.
func (c *MemberKeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
