package mqtttest

import (
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// settledListener is mochi's TCP listener keeping count of the connections
// it hands to mochi, so that Stop can end them all before mochi closes:
// mochi v2.7.9 races (Server.Close against EstablishConnection) when it
// closes while it sets up a connection it accepted just before, as a
// client retrying every few milliseconds makes likely.
type settledListener struct {
	*listeners.Net

	mu     sync.Mutex
	closed bool // no connection is handed to mochi any more
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // one per connection mochi is serving
}

func newSettledListener(id string, l net.Listener) *settledListener {
	return &settledListener{Net: listeners.NewNet(id, l), conns: make(map[net.Conn]struct{})}
}

// Serve implements listeners.Listener.
func (l *settledListener) Serve(establish listeners.EstablishFn) {
	l.Net.Serve(func(id string, c net.Conn) error {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return c.Close()
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			l.wg.Done()
		}()
		return establish(id, c)
	})
}

// end closes every connection and waits, up to within, until mochi is done
// with them; it reports whether it was. Call it once the net.Listener is
// closed.
func (l *settledListener) end(within time.Duration) bool {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(within):
		return false
	}
}
