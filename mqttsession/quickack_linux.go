package mqttsession

import (
	"io"
	"net"
	"syscall"
)

// quickAck returns a reader of c that puts the socket back in quick-ACK
// mode after each read. Linux leaves that mode by itself (tcp(7):
// TCP_QUICKACK "is not permanent"), after which it delays each ACK, up to
// 40 ms, hoping to send it along with data; so the mode is set again each
// time. When the socket cannot be reached, reads go on without it.
func quickAck(c *net.TCPConn) io.Reader {
	raw, err := c.SyscallConn()
	if err != nil {
		return c
	}
	q := &quickAckReader{c: c, raw: raw}
	q.rearm()
	return q
}

type quickAckReader struct {
	c   *net.TCPConn
	raw syscall.RawConn
}

func (q *quickAckReader) Read(p []byte) (int, error) {
	n, err := q.c.Read(p)
	if n > 0 {
		q.rearm()
	}
	return n, err
}

func (q *quickAckReader) rearm() {
	_ = q.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
