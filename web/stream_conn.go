package web

import (
	"bufio"
	"net"
	"net/http"
)

// The buffers of a WebSocket stream's connection. net/http hands a
// hijacker the 4 KiB reader and 4 KiB writer it served the request with,
// and coder/websocket keeps both for the life of the connection: 8 KiB per
// stream, most of an idle stream's heap. A stream's client sends nothing
// but control frames (at most 131 bytes each), and the server writes one
// frame at a time and flushes it, so small buffers cost no more than an
// extra write for a frame larger than wsWriteBuffer (the rest of such a
// frame is written straight from the caller's slice, without copying).
const (
	wsReadBuffer  = 128
	wsWriteBuffer = 512
)

// smallBuffers is an http.ResponseWriter whose Hijack returns the
// connection with small buffers of its own instead of net/http's, which
// then become garbage. websocket.Accept hijacks through it.
// When closed is set, the connection it returns calls it after closing:
// coder/websocket closes the connection once its reader sees the client
// go (an error, or a close frame), which is how a stream without a
// goroutine of its own learns that its client left.
type smallBuffers struct {
	http.ResponseWriter
	closed func()
}

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if w.closed != nil {
		nc = &watchedConn{Conn: nc, closed: w.closed}
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// The client sent bytes after its handshake before it saw the
		// response (allowed, if unusual): keep net/http's buffers, which
		// hold them.
		return nc, brw, nil
	}
	// net/http flushed the response header before returning; flush
	// again in case a later version does not.
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, wsReadBuffer), bufio.NewWriterSize(nc, wsWriteBuffer)), nil
}

// watchedConn calls closed after each Close.
type watchedConn struct {
	net.Conn
	closed func()
}

func (c *watchedConn) Close() error {
	err := c.Conn.Close()
	c.closed()
	return err
}
