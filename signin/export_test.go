package signin

// DummyHash is dummyHash, for TestDummyHash.
const DummyHash = dummyHash
