package sqlstore

// TestKeys are a random key-encryption key and one member's secret under
// it, for benchmarks of what sends and reads add.
type TestKeys struct {
	kek      *kek
	memberID int64
	wrapped  []byte
	key      *memberKey
}

// NewTestKeys makes a KEK and a member secret wrapped under it.
func NewTestKeys(memberID int64) (*TestKeys, error) {
	k, err := newKEK(randomBytes(kekSize))
	if err != nil {
		return nil, err
	}
	tk := &TestKeys{kek: k, memberID: memberID}
	tk.wrapped = k.wrap(memberID, randomBytes(32))
	tk.key, err = tk.Unwrap()
	return tk, err
}

// Unwrap unwraps the secret and derives its message key: a cache miss.
func (tk *TestKeys) Unwrap() (*memberKey, error) {
	secret, err := tk.kek.unwrap(tk.memberID, tk.wrapped)
	if err != nil {
		return nil, err
	}
	return newMemberKey(tk.wrapped, secret)
}

// Seal seals a message body as a send does.
func (tk *TestKeys) Seal(conversationID, seq int64, text string) []byte {
	return tk.key.seal(conversationID, seq, text)
}

// Open opens a body as a read does.
func (tk *TestKeys) Open(conversationID, seq int64, body []byte) (string, error) {
	return tk.key.open(conversationID, seq, body)
}
