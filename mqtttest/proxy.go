package mqtttest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// pubackType is the first byte of an MQTT 3.1.1 PUBACK packet (section 3.4).
const pubackType = 0x40

// Proxy is a TCP proxy in front of a plain-TCP broker, for the faults a
// broker connection has: it can lose the acknowledgements its clients send,
// as a crash between handling a message and acknowledging it does, and cut
// every connection. The broker then sends the unacknowledged messages
// again, with the DUP flag, when the client comes back.
type Proxy struct {
	URL string // tcp://127.0.0.1:port

	target string
	l      net.Listener

	mu    sync.Mutex
	drop  bool
	down  bool // connections are closed as they come
	conns []net.Conn
}

// Down cuts every connection and refuses new ones until Up, as a broker
// that stopped: the broker itself, and the sessions it keeps, stay.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Cut()
}

// Up lets clients connect again after Down.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Proxy starts a proxy to b, closed when the test ends.
func (b *Broker) Proxy(tb testing.TB) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{URL: "tcp://" + l.Addr().String(), target: b.addr, l: l}
	go p.serve()
	tb.Cleanup(func() {
		l.Close()
		p.Cut()
	})
	return p
}

// DropAcks makes the proxy lose every PUBACK clients send, until Cut.
func (p *Proxy) DropAcks() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = true
}

// Cut closes every connection through the proxy; acknowledgements sent on
// later connections reach the broker.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns, p.drop = nil, false
}

func (p *Proxy) serve() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		broker, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, broker)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(client, broker); client.Close() }()
		go func() { p.forward(client, broker); broker.Close() }()
	}
}

// forward copies the client's packets to the broker, less the PUBACKs
// while they are dropped. A packet read after Cut meets a closed connection.
func (p *Proxy) forward(client, broker net.Conn) {
	r := bufio.NewReader(client)
	for {
		pkt, err := readPacket(r)
		if err != nil {
			return
		}
		p.mu.Lock()
		drop := p.drop && pkt[0] == pubackType
		p.mu.Unlock()
		if drop {
			continue
		}
		if _, err := broker.Write(pkt); err != nil {
			return
		}
	}
}

// readPacket reads one MQTT packet whole: its fixed header, with the
// remaining length coded on up to four bytes, then the rest.
func readPacket(r *bufio.Reader) ([]byte, error) {
	pkt := make([]byte, 1, 64)
	if _, err := io.ReadFull(r, pkt); err != nil {
		return nil, err
	}
	length, shift := 0, 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		pkt = append(pkt, c)
		length |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(pkt, body...), nil
}
