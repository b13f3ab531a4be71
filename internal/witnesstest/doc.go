// Package witnesstest runs a real, independent C2SP tlog-witness for the
// tests of witnessed checkpoints: litewitness from filippo.io/torchwood,
// the version go.mod pins with its tool lines (built by `go tool -n`, or
// the binaries $GLASSHOUSE_LITEWITNESS and $GLASSHOUSE_WITNESSCTL name),
// as a process of its own on a loopback port, with its Ed25519 key in an
// ssh-agent of its own (Debian's openssh-client, which .ci/run installs),
// as a witness operator runs it. A test registers the log's origin and
// key with witnessctl, stops the witness and starts it again on the same
// port and database. Without the programs the tests skip, or fail under CI.
//
// Cosigner is the same witness's signature without the process: a key
// made in the test that adds cosignature/v1 lines to checkpoints, for
// tests of what verifiers (Go and the browser's) accept.
package witnesstest
