// Package syncbuf is a bytes.Buffer safe for concurrent writes and reads:
// what a test hands a server as its log destination, or a command running
// in a goroutine as its output, and reads while they run.
package syncbuf
