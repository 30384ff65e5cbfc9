// Package bench measures a running messenger-bridge from the outside, as a
// home automation sees it: it publishes numbered messages to the notify
// topics over MQTT and times their arrival at a fake Graph API.
//
// Run counts a message as lost when the broker acknowledged its publication
// but the fake Graph API never received it; it waits for the bridge to
// publish one result per acknowledged message (SPEC §4) before it counts.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// DefaultIdle is how long Run waits for the next result before it gives up
// on the rest: far longer than any delivery takes when nothing is lost.
const DefaultIdle = 10 * time.Second

// window bounds the publications awaiting the broker's acknowledgement; MQTT
// packet identifiers allow 65535 at most.
const window = 1024

// Load is what Run publishes, and where.
type Load struct {
	// Broker is the MQTT broker's URL, e.g. "tcp://127.0.0.1:1883".
	Broker string
	// BaseTopic is the bridge's MQTT_BASE_TOPIC.
	BaseTopic string
	// Recipients are the names messages are addressed to, in turn.
	Recipients []string
	// Messages is how many messages to publish.
	Messages int
	// Rate is in messages per second; 0 publishes as fast as the broker
	// acknowledges.
	Rate float64
	// Idle is how long to wait for the next result before counting the
	// messages still missing as lost; 0 means DefaultIdle.
	Idle time.Duration
}

// Report is what Run measured.
type Report struct {
	// Published is the number of publications the broker acknowledged.
	Published int
	// Received is the number of those the fake Graph API accepted, each
	// counted once.
	Received int
	// Lost is Published minus Received.
	Lost int
	// Duplicates counts Send calls beyond the first for one message.
	Duplicates int
	// Results counts the results the bridge published, by status.
	Results map[delivery.Status]int
	// Publishing runs from the first publication to the broker's last
	// acknowledgement.
	Publishing time.Duration
	// Elapsed runs from the first publication to the last arrival at the
	// fake Graph API.
	Elapsed time.Duration
	// Latency is from publication to arrival at the fake Graph API.
	Latency Latency
}

// Throughput is in messages received per second of Elapsed.
func (r Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Received) / r.Elapsed.Seconds()
}

// Run publishes l.Messages messages with QoS 1 to the notify topics of
// l.Recipients, waits until the bridge has published a result for each or
// has been silent for l.Idle, and reports what arrived at g. g must be the
// fake Graph API the bridge sends to. Run returns an error only when it
// cannot measure: the broker cannot be reached, or ctx ends.
func Run(ctx context.Context, g *graphtest.Server, l Load) (Report, error) {
	if l.Messages < 1 || len(l.Recipients) == 0 {
		return Report{}, errors.New("bench: a load needs at least one message and one recipient")
	}
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	id := fmt.Sprintf("%08x", rand.Uint32())
	r := &run{load: l, tag: "bench " + id + " ",
		sent: make([]time.Time, l.Messages), acked: make([]bool, l.Messages),
		results: make(map[delivery.Status]int), progress: make(chan struct{}, 1)}
	c, err := Connect(ctx, l.Broker, "messenger-bench-"+id)
	if err != nil {
		return Report{}, err
	}
	defer c.Disconnect(0)
	subCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = await(subCtx, c.Subscribe(l.BaseTopic+"/result/#", 1, r.result))
	cancel()
	if err != nil {
		return Report{}, fmt.Errorf("bench: subscribe to results on %s: %w", l.Broker, err)
	}
	began := time.Now()
	published, err := r.publish(ctx, c)
	if err != nil {
		return Report{}, err
	}
	publishing := time.Since(began)
	if err := r.wait(ctx, published); err != nil {
		return Report{}, err
	}
	rep := r.report(g.Requests())
	rep.Publishing = publishing
	return rep, nil
}

// run is the state of one Run.
type run struct {
	load Load
	tag  string // prefix of every text, unique to the run

	sent  []time.Time // by sequence number; written before publishing
	acked []bool      // by sequence number; written by publish only

	mu       sync.Mutex
	results  map[delivery.Status]int
	progress chan struct{} // signalled on every result
}

// publish publishes every message, paced to the load's rate, and returns
// how many the broker acknowledged.
func (r *run) publish(ctx context.Context, c mqtt.Client) (int, error) {
	type pub struct {
		seq   int
		token mqtt.Token
	}
	inflight := make(chan pub, window)
	acked := make(chan int, 1)
	go func() {
		n := 0
		for p := range inflight {
			if await(ctx, p.token) == nil {
				r.acked[p.seq] = true
				n++
			}
		}
		acked <- n
	}()
	start := time.Now()
	var err error
	for seq := range r.load.Messages {
		if r.load.Rate > 0 {
			if err = sleepUntil(ctx, start.Add(time.Duration(float64(seq)*float64(time.Second)/r.load.Rate))); err != nil {
				break
			}
		}
		topic := r.load.BaseTopic + "/notify/" + r.load.Recipients[seq%len(r.load.Recipients)]
		r.sent[seq] = time.Now()
		inflight <- pub{seq, c.Publish(topic, 1, false, r.tag+strconv.Itoa(seq))}
	}
	close(inflight)
	n := <-acked
	if err != nil {
		return n, fmt.Errorf("bench: publishing stopped: %w", err)
	}
	return n, nil
}

// result is the handler for results: it counts them by status.
func (r *run) result(_ mqtt.Client, m mqtt.Message) {
	var res delivery.Result
	if json.Unmarshal(m.Payload(), &res) != nil {
		return
	}
	r.mu.Lock()
	r.results[res.Status]++
	r.mu.Unlock()
	select {
	case r.progress <- struct{}{}:
	default:
	}
}

// wait returns once n results arrived, or none for the load's Idle time.
func (r *run) wait(ctx context.Context, n int) error {
	idle := time.NewTimer(r.load.Idle)
	defer idle.Stop()
	for {
		r.mu.Lock()
		got := 0
		for _, k := range r.results {
			got += k
		}
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for results: %w", context.Cause(ctx))
		case <-idle.C:
			return nil // the rest are lost
		case <-r.progress:
			idle.Reset(r.load.Idle)
		}
	}
}

// report counts the run's messages among the Send calls g accepted.
func (r *run) report(accepted []graphtest.Request) Report {
	arrived := make([]time.Time, r.load.Messages)
	rep := Report{Results: make(map[delivery.Status]int)}
	for _, req := range accepted {
		seq, err := strconv.Atoi(strings.TrimPrefix(req.Text, r.tag))
		if !strings.HasPrefix(req.Text, r.tag) || err != nil || seq < 0 || seq >= r.load.Messages {
			continue
		}
		if !arrived[seq].IsZero() {
			rep.Duplicates++
			continue
		}
		arrived[seq] = req.At
	}
	var latencies []time.Duration
	var last time.Time
	for seq, at := range arrived {
		if r.acked[seq] {
			rep.Published++
		}
		if at.IsZero() {
			continue
		}
		if r.acked[seq] {
			rep.Received++
		}
		latencies = append(latencies, at.Sub(r.sent[seq]))
		if at.After(last) {
			last = at
		}
	}
	rep.Lost = rep.Published - rep.Received
	if !last.IsZero() {
		rep.Elapsed = last.Sub(r.sent[0])
	}
	rep.Latency = latencyOf(latencies)
	r.mu.Lock()
	for k, v := range r.results {
		rep.Results[k] = v
	}
	r.mu.Unlock()
	return rep
}

// Latency summarises latencies.
type Latency struct {
	P50, P99, Max time.Duration
}

// latencyOf returns the nearest-rank percentiles of d, which it sorts.
func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	rank := func(p int) time.Duration { return d[(p*len(d)+99)/100-1] }
	return Latency{P50: rank(50), P99: rank(99), Max: d[len(d)-1]}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}
