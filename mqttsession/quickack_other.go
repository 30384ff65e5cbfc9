//go:build !linux

package mqttsession

import (
	"io"
	"net"
)

// quickAck returns c: TCP_QUICKACK is Linux's. Elsewhere a broker without
// TCP_NODELAY may hold messages back by a delayed ACK's time.
func quickAck(c *net.TCPConn) io.Reader { return c }
