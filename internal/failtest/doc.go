// Package failtest is for the tests of test helpers (internal/pagetest,
// internal/oauthtest, internal/tlogtest): it runs a helper against a
// testing.TB that records the helper's failures instead of failing the
// test, so that a test can show that the helper fails when it should.
//
//	if failed := failtest.Run(t, func(tb testing.TB) { helper(tb, bad) }); len(failed) == 0 {
//		t.Error("passed; want a failure")
//	}
package failtest
