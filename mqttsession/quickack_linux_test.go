package mqttsession

import (
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"
)

// After each read the socket acknowledges at once again, though answering
// what it read (as the bridge answers each message) puts Linux back into
// delaying its ACKs.
func TestBrokerConnRearmsQuickAck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	conn, err := dialTCP(&url.URL{Host: l.Addr().String()}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	broker := <-accepted
	if broker == nil {
		t.Fatal("accept failed")
	}
	defer broker.Close()

	raw, err := conn.(*brokerConn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	quick := func() (v int) {
		_ = raw.Control(func(fd uintptr) {
			v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
		})
		return v
	}
	buf := make([]byte, 1)
	for i := range 8 {
		if _, err := broker.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(buf); err != nil || buf[0] != byte(i) {
			t.Fatalf("read %d: %v %v", i, buf, err)
		}
		if q := quick(); q != 1 {
			t.Fatalf("exchange %d: TCP_QUICKACK = %d after the read, want 1", i, q)
		}
		if _, err := conn.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := broker.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
}
