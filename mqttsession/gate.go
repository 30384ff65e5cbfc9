package mqttsession

import (
	"errors"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// resumeGate holds publications back from the moment a connection comes up
// until paho has listed its store to resend what it kept. It is the
// session's mqtt.Store, safe for concurrent use.
//
// With a persistent session paho "resumes" after every connection by
// resending each QoS 1 message in its store. A message published in the
// moment between the connection coming up and resume listing the store is
// both sent at once and resent by resume, and the two race on the packet
// (eclipse-paho/paho.mqtt.golang#703). Publications made while disconnected
// are safe: they only wait in the store. So the gate closes when paho starts
// reconnecting (its OnReconnecting callback runs before each attempt), and
// opens when resume lists the store on an open connection.
//
// The gate relies on a behaviour paho does not document: that it calls
// Store.All exactly once per connection, at the start of resume, once the
// connection is open (paho v1.5.1, client.go: Connect's goroutine and
// reconnect call resume after startCommsWorkers, and resume begins with
// c.persist.All()). The only other call, in reserveStoredPublishIDs, comes
// from Connect before any connection is open, and is ignored. Should paho
// stop listing the store there, the gate would stay closed after a
// reconnection and every publication would wait; should it list the store
// earlier, the race would be back. TestGateOpensInResume pins it: check
// it when upgrading paho.
type resumeGate struct {
	*mqtt.MemoryStore
	isOpen func() bool // the client's IsConnectionOpen

	mu      sync.Mutex
	open    chan struct{} // closed while publishing is safe
	stopped chan struct{} // closed at shutdown
	stop    func()
}

func newResumeGate() *resumeGate {
	stopped := make(chan struct{})
	return &resumeGate{MemoryStore: mqtt.NewMemoryStore(), open: make(chan struct{}),
		stopped: stopped, stop: sync.OnceFunc(func() { close(stopped) })}
}

// Put and Get implement mqtt.Store. The store keeps its own copy of a
// PUBLISH and hands out copies, as paho's FileStore does by going through
// the disk, where MemoryStore shares one packet with every user. paho
// writes to a packet as it sends it (Write sets RemainingLength) and resume
// marks a stored one as a duplicate (Dup); a Publish call caught across a
// reconnection sends its packet on the new connection while resume resends
// the stored one, and with one shared packet the two would write the same
// memory (eclipse-paho/paho.mqtt.golang#703). With copies, the stored
// packet is never written after Put. Payloads are shared: nothing writes
// to them.
func (g *resumeGate) Put(key string, p packets.ControlPacket) {
	g.MemoryStore.Put(key, copyPublish(p))
}

// Get implements mqtt.Store; see Put.
func (g *resumeGate) Get(key string) packets.ControlPacket {
	return copyPublish(g.MemoryStore.Get(key))
}

func copyPublish(p packets.ControlPacket) packets.ControlPacket {
	if pub, ok := p.(*packets.PublishPacket); ok {
		c := *pub
		return &c
	}
	return p
}

// All implements mqtt.Store. paho's resume calls it once per connection,
// on the open connection: that opens the gate (see resumeGate).
func (g *resumeGate) All() []string {
	keys := g.MemoryStore.All()
	if g.isOpen != nil && g.isOpen() {
		g.mu.Lock()
		select {
		case <-g.open:
		default:
			close(g.open)
		}
		g.mu.Unlock()
	}
	return keys
}

// reconnecting closes the gate before paho tries to connect again.
func (g *resumeGate) reconnecting() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// wait returns once publishing is safe, reporting true, or once shutdown
// began while it is not, reporting false: publishing then would race paho's
// resume (eclipse-paho/paho.mqtt.golang#703), and what paho's memory store
// took would be lost with the process anyway. It reports false too once
// done is closed; a nil done never is.
func (g *resumeGate) wait(done <-chan struct{}) bool {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return true
	case <-done:
		return false
	case <-g.stopped:
		select {
		case <-open:
			return true
		default:
			return false
		}
	}
}

// ErrShuttingDown is the error of a publication that the shutdown kept
// from starting: it began while the session was not connected.
var ErrShuttingDown = errors.New("not published: shutting down while not connected to the MQTT broker")

// refusedToken is the mqtt.Token of a publication that was not made.
type refusedToken struct{ done chan struct{} }

func newRefusedToken() refusedToken {
	t := refusedToken{done: make(chan struct{})}
	close(t.done)
	return t
}

func (refusedToken) Wait() bool                     { return true }
func (refusedToken) WaitTimeout(time.Duration) bool { return true }
func (t refusedToken) Done() <-chan struct{}        { return t.done }
func (refusedToken) Error() error                   { return ErrShuttingDown }
