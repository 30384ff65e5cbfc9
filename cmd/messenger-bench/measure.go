package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/messenger-bridge/messenger-bridge/bench"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// onlineTimeout bounds the wait for a started bridge to announce itself.
const onlineTimeout = 30 * time.Second

// sampleEvery is how often the bridge's RSS is read during the load.
const sampleEvery = 50 * time.Millisecond

// defaultOutboxMax is OUTBOX_MAX's default (SPEC §1).
const defaultOutboxMax = 10000

// measurement is what one run measured.
type measurement struct {
	bench.Report
	bridge  string        // the binary measured
	idleRSS int64         // bytes, after start-up and o.settle
	loadRSS int64         // bytes, the most sampled during the load
	peakRSS int64         // bytes, VmHWM: the most since the bridge started
	cpu     time.Duration // the bridge's user and system time during the load
	ownCPU  time.Duration // the same for this process: publisher and fake Graph API
}

// measure runs one bridge under one load and stops it.
func measure(ctx context.Context, o options, stderr io.Writer) (m measurement, err error) {
	work, err := os.MkdirTemp("", "messenger-bench-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(work)
	m.bridge = o.bridge
	if m.bridge == "" {
		if m.bridge, err = build(ctx, work); err != nil {
			return m, err
		}
	}

	id := runID()
	token := "EAAGbench" + runID() + runID() // never printed
	g, err := graphtest.Start(token)
	if err != nil {
		return m, err
	}
	defer g.Close()
	names, recipients := people(o.recipients)
	for _, r := range recipients {
		_, psid, _ := strings.Cut(r, ":")
		g.AddUser(psid)
	}
	dataDir := o.dataDir
	if dataDir == "" {
		dataDir = filepath.Join(work, "data")
	}
	base, bridgeID := "messenger-bench-"+id, "messenger-bench-"+id+"-bridge"
	env := append([]string{
		"FB_PAGE_TOKEN=" + token, "FB_GRAPH_URL=" + g.URL, "RECIPIENTS=" + strings.Join(recipients, ","),
		"MQTT_URL=" + o.broker, "MQTT_CLIENT_ID=" + bridgeID, "MQTT_BASE_TOPIC=" + base,
		"DATA_DIR=" + dataDir, "SEND_RATE=0", "HTTP_ADDR=", "HA_DISCOVERY=false",
		"LOG_LEVEL=" + o.logLevel, "LOG_FORMAT=json", "OUTBOX_MAX=" + strconv.Itoa(outboxMax(o.messages)),
	}, o.env...)

	online, err := watchOnline(ctx, o.broker, base, "messenger-bench-"+id+"-watch")
	if err != nil {
		return m, err
	}
	defer online.stop()
	p, err := startBridge(m.bridge, env, filepath.Join(work, "bridge.log"))
	if err != nil {
		return m, err
	}
	defer func() {
		if stopErr := p.stop(); stopErr != nil {
			fmt.Fprintln(stderr, "messenger-bench:", stopErr)
			p.tail(stderr)
		}
		if cleanErr := forget(context.WithoutCancel(ctx), o.broker, base, bridgeID); cleanErr != nil {
			fmt.Fprintln(stderr, "messenger-bench: cleaning up the broker:", cleanErr)
		}
	}()
	if err := online.wait(ctx, p, onlineTimeout); err != nil {
		p.tail(stderr)
		return m, err
	}

	if err := sleep(ctx, o.settle); err != nil {
		return m, err
	}
	if m.idleRSS, _, err = memory(p.pid()); err != nil {
		return m, err
	}
	cpu0, err := cpuTime(p.pid())
	if err != nil {
		return m, err
	}
	own0, err := cpuTime(os.Getpid())
	if err != nil {
		return m, err
	}
	sampled := sampleRSS(p.pid())
	m.Report, err = bench.Run(ctx, g, bench.Load{Broker: o.broker, BaseTopic: base, Recipients: names,
		Messages: o.messages, Rate: o.rate, Idle: o.idle})
	m.loadRSS = sampled()
	if err != nil {
		return m, err
	}
	cpu1, err := cpuTime(p.pid())
	if err != nil {
		return m, err
	}
	own1, err := cpuTime(os.Getpid())
	if err != nil {
		return m, err
	}
	m.cpu, m.ownCPU = cpu1-cpu0, own1-own0
	_, m.peakRSS, err = memory(p.pid())
	return m, err
}

// outboxMax is the OUTBOX_MAX a run of n messages sets: the default, or
// room for every message, so that a long burst measures delivery rather
// than the bound.
func outboxMax(n int) int { return max(defaultOutboxMax, n) }

// people returns n recipient names and their RECIPIENTS pairs.
func people(n int) (names, pairs []string) {
	for i := range n {
		name := "person" + strconv.Itoa(i+1)
		names = append(names, name)
		pairs = append(pairs, fmt.Sprintf("%s:%d", name, 26428272146800001+i))
	}
	return names, pairs
}

// sampleRSS reads the RSS of pid every sampleEvery until the returned
// function is called, which returns the largest value read.
func sampleRSS(pid int) func() int64 {
	stop, most := make(chan struct{}), make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			if rss, _, err := memory(pid); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-stop:
				most <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-most }
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func (m measurement) print(w io.Writer, o options) {
	pace := "as fast as possible"
	if o.rate > 0 {
		pace = fmt.Sprintf("at %g/s", o.rate)
	}
	fmt.Fprintf(w, "messenger-bench: %d messages to %d recipients %s through %s\n", o.messages, o.recipients, pace, o.broker)
	bin := m.bridge
	if o.bridge == "" {
		bin = bridgePackage + " (built as the Dockerfile builds it)"
	}
	fmt.Fprintf(w, "bridge       %s, SEND_RATE=0 LOG_LEVEL=%s OUTBOX_MAX=%d %s\n",
		bin, o.logLevel, outboxMax(o.messages), o.env.String())
	fmt.Fprintf(w, "published    %d acknowledged by the broker in %s (%.0f msgs/s offered)\n",
		m.Published, m.Publishing.Round(time.Millisecond), float64(m.Published)/m.Publishing.Seconds())
	fmt.Fprintf(w, "received     %d by Graph: %d lost, %d sent twice\n", m.Received, m.Lost, m.Duplicates)
	var results []string
	for _, s := range slices.Sorted(maps.Keys(m.Results)) {
		results = append(results, fmt.Sprintf("%d %s", m.Results[s], s))
	}
	fmt.Fprintf(w, "results      %s\n", strings.Join(results, ", "))
	fmt.Fprintf(w, "throughput   %.0f msgs/s (%s from the first publication to the last arrival)\n",
		m.Throughput(), m.Elapsed.Round(time.Millisecond))
	l := m.Latency
	fmt.Fprintf(w, "latency      p50 %s, p99 %s, max %s (publication to Graph)\n", micro(l.P50), micro(l.P99), micro(l.Max))
	fmt.Fprintf(w, "bridge RSS   %s idle, %s most seen under load, %s peak (VmHWM)\n",
		mib(m.idleRSS), mib(m.loadRSS), mib(m.peakRSS))
	perMsg := time.Duration(0)
	if m.Published > 0 {
		perMsg = m.cpu / time.Duration(m.Published)
	}
	fmt.Fprintf(w, "bridge CPU   %s under load, %s per message; messenger-bench itself: %s\n",
		m.cpu.Round(time.Millisecond), micro(perMsg), m.ownCPU.Round(time.Millisecond))
}

func micro(d time.Duration) string { return d.Round(time.Microsecond).String() }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
