// Package tlogtest reads the transparency log's signed checkpoints in
// tests without package accesslog: the signature checked with
// golang.org/x/mod/sumdb/note and the body (origin, size, root hash, as
// C2SP's tlog-checkpoint specifies it) parsed by hand, so that the tests of
// accesslog, web and export check what the log serves or exports against
// the format, not against the code that wrote it. It must never import
// accesslog.
//
//	cp := tlogtest.Open(t, signed, verifierKey)
//	err := tlog.CheckRecord(proof, cp.N, cp.Hash, index, tlog.RecordHash(entry))
//
// For benchmarks of the time from an access to a checkpoint that covers
// it, Publications notes when each checkpoint size was first published and
// Latencies measures each access against them.
package tlogtest
