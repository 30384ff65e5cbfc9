package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// Flags of BenchmarkOutboxMemory.
var (
	memMessages = flag.Int("outbox-messages", 10000, "BenchmarkOutboxMemory: messages waiting")
	memSize     = flag.Int("outbox-message-kb", 200, "BenchmarkOutboxMemory: kB of base64 attachment.data per message")
	memBridge   = flag.String("outbox-bridge", "", "BenchmarkOutboxMemory: a messenger-bridge binary to measure instead of this one")
)

// memWindow bounds the messages published and not yet in the outbox, so
// that the broker never drops one and the bridge's intake is not what is
// measured.
const memWindow = 40

// memHold is how long the outage and restart runs go on once every
// message waits: a few retries, each loading a message.
const memHold = 3 * time.Second

// BenchmarkOutboxMemory measures the bridge's resident memory (VmRSS, and
// its peak VmHWM) while -outbox-messages messages of -outbox-message-kb kB
// wait in its outbox, in three runs of the bridge on one DATA_DIR:
//
//   - outage: Graph cannot be reached while the messages are published;
//   - restart: the bridge starts again on them, Graph still away;
//   - drain: it starts again with Graph back, and delivers them all.
//
// It runs the scenario once, whatever b.N; run it with -benchtime=1x:
//
//	MQTT_TEST_BROKER=mosquitto go test ./cmd/messenger-bridge -run '^$' -bench OutboxMemory -benchtime=1x
//
// -outbox-bridge measures another build, such as an older release.
func BenchmarkOutboxMemory(b *testing.B) {
	for b.Loop() {
		measureOutboxMemory(b)
	}
}

func measureOutboxMemory(b *testing.B) {
	n := *memMessages
	broker := mqtttest.Start(b)
	client := broker.Connect(b)
	dataDir := b.TempDir()
	people := []string{"alice:" + crashPeople[0].psid, "bob:" + crashPeople[1].psid}
	env := func(graphURL, metricsAddr string) []string {
		return []string{
			crashChildEnv + "=1", "FB_PAGE_TOKEN=" + crashToken, "FB_GRAPH_URL=" + graphURL,
			"RECIPIENTS=" + strings.Join(people, ","), "MQTT_URL=" + broker.URL, "MQTT_CLIENT_ID=memory-bench-bridge",
			"DATA_DIR=" + dataDir, "SEND_RATE=0", "HTTP_ADDR=" + metricsAddr, "HA_DISCOVERY=false",
			"LOG_FORMAT=json", "LOG_LEVEL=info", "MESSAGE_TTL=24h",
			"OUTBOX_MAX=" + strconv.Itoa(max(10000, n)), "OUTBOX_MAX_BYTES=" + strconv.Itoa(2*n*(*memSize+10)) + "kB",
		}
	}
	down := "http://" + freeAddr(b) // nothing listens there: connection refused

	// Outage: everything published waits.
	addr := freeAddr(b)
	p := startMeasured(b, env(down, addr))
	waitEntries(b, addr, p, func(int) bool { return true })
	samples := p.sample()
	data := make([]byte, *memSize*1024*3/4)
	r := rand.NewChaCha8([32]byte{7})
	for i := range n {
		if _, err := io.ReadFull(r, data); err != nil {
			b.Fatal(err)
		}
		name := []string{"alice", "bob"}[i%2]
		client.Publish("messenger/notify/"+name, fmt.Sprintf(
			`{"message":"photo %05d","id":"photo-%05d","attachment":{"type":"image","filename":"p.jpg","content_type":"image/jpeg","data":%q}}`,
			i, i, base64.StdEncoding.EncodeToString(data)))
		if i%memWindow == memWindow-1 {
			waitEntries(b, addr, p, func(stored int) bool { return stored > i-memWindow })
		}
	}
	waitEntries(b, addr, p, func(stored int) bool { return stored == n })
	time.Sleep(memHold) // retries load the first messages again
	outage := samples()
	p.stop(b)

	// Restart: start-up reads what waits.
	addr = freeAddr(b)
	p = startMeasured(b, env(down, addr))
	waitEntries(b, addr, p, func(stored int) bool { return stored == n })
	samples = p.sample() // VmHWM covers the start-up
	p.waitLog(b, "resuming messages left in the outbox")
	time.Sleep(memHold)
	restart := samples()
	p.stop(b)

	// Drain: Graph is back, every message goes.
	g := graphtest.NewServer(b, crashToken)
	g.AddUser(crashPeople[0].psid)
	g.AddUser(crashPeople[1].psid)
	addr = freeAddr(b)
	p = startMeasured(b, env(g.URL, addr))
	waitEntries(b, addr, p, func(int) bool { return true })
	samples = p.sample()
	for pictures := 0; pictures < n; {
		select {
		case req := <-g.Received():
			if req.Attachment != nil {
				pictures++
			}
		case <-time.After(time.Minute):
			b.Fatalf("Graph got %d of %d pictures, and nothing for a minute", pictures, n)
		}
	}
	drain := samples()
	p.stop(b)

	b.ReportMetric(mib(outage.hwm), "outage-MiB")
	b.ReportMetric(mib(restart.hwm), "restart-MiB")
	b.ReportMetric(mib(drain.hwm), "drain-MiB")
	b.ReportMetric(mib(max(outage.anon, restart.anon, drain.anon)), "max-anon-MiB")
	for _, ph := range []struct {
		name string
		m    memory
	}{{"outage", outage}, {"restart", restart}, {"drain", drain}} {
		b.Logf("%d messages of %d kB waiting, %-7s peak RSS %5.1f MiB (at most %5.1f MiB anonymous, %5.1f MiB of files)",
			n, *memSize, ph.name+":", mib(ph.m.hwm), mib(ph.m.anon), mib(ph.m.file))
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// freeAddr returns a host:port on loopback nobody listens on just now.
func freeAddr(b testing.TB) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// measured is a bridge run by BenchmarkOutboxMemory.
type measured struct {
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	exited chan struct{}
}

// waitLog polls the bridge's log until a line holds text.
func (p *measured) waitLog(b *testing.B, text string) {
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(p.logs.String(), text) {
		if time.Now().After(deadline) {
			b.Fatalf("the bridge did not log %q", text)
		}
		time.Sleep(5 * time.Millisecond) // polling from outside; a benchmark, not a test
	}
}

func startMeasured(b *testing.B, env []string) *measured {
	bin, args := os.Args[0], []string{"-test.run=^TestKillDuringBurst$"}
	if *memBridge != "" {
		bin, args = *memBridge, nil
	}
	p := &measured{cmd: exec.Command(bin, args...), logs: new(logtest.Buffer), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	b.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *measured) stop(b *testing.B) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		b.Fatal("the bridge did not stop")
	}
}

// memory is what the kernel says of the bridge's memory, in bytes.
type memory struct {
	hwm  int64 // VmHWM: the peak resident set since it started
	anon int64 // RssAnon: resident anonymous memory, the heap
	file int64 // RssFile: resident pages of files, the outbox's map included
}

// sample reads the bridge's memory every 20 ms until the returned function
// is called, which returns the peak. It must be called once the bridge
// answers: before its exec, the child shows this process's memory.
func (p *measured) sample() func() memory {
	stop, result := make(chan struct{}), make(chan memory)
	go func() {
		var peak memory
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			m := readMemory(p.cmd.Process.Pid)
			peak.hwm, peak.anon, peak.file = max(peak.hwm, m.hwm), max(peak.anon, m.anon), max(peak.file, m.file)
			select {
			case <-stop:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() memory { close(stop); return <-result }
}

func readMemory(pid int) memory {
	var m memory
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, _ := strings.Cut(s.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmHWM":
			m.hwm = kb << 10
		case "RssAnon":
			m.anon = kb << 10
		case "RssFile":
			m.file = kb << 10
		}
	}
	return m
}

// waitEntries polls the bridge's metrics until the entries in its outbox
// satisfy ok.
func waitEntries(b *testing.B, addr string, p *measured, ok func(int) bool) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			b.Fatalf("the bridge exited; it logged:\n%s", p.logs)
		default:
		}
		if n, err := outboxEntries(addr); err == nil && ok(n) {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling the bridge from outside; a benchmark, not a test
	}
	b.Fatalf("the outbox did not reach the count wanted; the bridge logged:\n%s", p.logs)
}

func outboxEntries(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "messenger_bridge_outbox_entries "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no outbox_entries gauge at %s", addr)
}
