package bridge

import (
	"context"
	"errors"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqttsession"
)

// Results are published by one goroutine, in the order reported, and their
// entries are marked done by another once the broker acknowledged them
// (PUBACK): an entry's outcome stays recorded in the outbox until the broker
// has its result, and a restart publishes what it never had (see
// republish). Delivery never waits for the broker: Report only queues.
const (
	// resultBatch is how many results the publisher takes at a time, and
	// how many acknowledged entries one outbox Done marks at most.
	resultBatch = 256
	// ackWait bounds how long shutdown waits for the broker to acknowledge
	// the results published last; those it has not are published again at
	// the next start.
	ackWait = 2 * time.Second
	// resultsInFlight bounds the results published and not yet
	// acknowledged. The broker may have passed those on when the bridge is
	// killed, and the next start publishes them again: this bounds how many
	// results a kill can repeat, at little cost to throughput (a local
	// broker acknowledges within a fraction of a millisecond).
	resultsInFlight = 16
)

// pendingAck is a result handed to paho, waiting for its PUBACK.
type pendingAck struct {
	seq   uint64 // 0 for a result of no stored entry
	topic string
	token mqtt.Token
}

// Report queues o's result for publication on the result topic of its
// recipient and returns at once. It implements delivery.Reporter: o's
// outcome is recorded in the outbox, and the entry is marked done once the
// broker has acknowledged the result. It is safe for concurrent use.
func (b *Bridge) Report(o delivery.Outcome) {
	b.deps.Metrics.Result(o.Recipient, string(o.Result.Status))
	b.results.Push(o)
}

// republish queues the results the outbox recorded before the last stop
// whose publication the broker never acknowledged. Their messages are not
// sent again.
func (b *Bridge) republish() {
	recorded, err := b.deps.Outbox.Outcomes()
	if err != nil {
		b.log.Error().Err(err).Msg("cannot read the results recorded before the restart; they stay recorded, to be published by a later start")
	}
	if len(recorded) == 0 {
		return
	}
	b.log.Info().Int("results", len(recorded)).
		Msg("publishing the results of messages delivered before the restart, which the broker did not acknowledge")
	for _, r := range recorded {
		b.results.Push(delivery.Outcome{Seq: r.Seq, Recipient: r.Recipient, Payload: r.Result})
	}
}

// publishResults publishes queued results until ctx ends and none is left
// (fifo.Queue.Take hands out what it holds before it looks at ctx). It
// returns early if shutdown begins while it waits for the broker: those
// results stay recorded.
func (b *Bridge) publishResults(ctx context.Context) {
	defer b.acks.Push(pendingAck{}) // tells awaitAcks that nothing follows
	for {
		batch := b.results.Take(ctx, resultBatch)
		if batch == nil {
			return
		}
		for _, o := range batch {
			topic := b.topics.Result(o.Recipient)
			if !b.room(ctx) {
				b.log.Warn().Int("results", b.results.Len()+1).
					Msg("shutting down while the MQTT broker does not acknowledge results: those not published are published at the next start")
				return
			}
			t := b.session.Publish(topic, false, o.Payload) // waits while the broker is away
			if errors.Is(t.Error(), mqttsession.ErrShuttingDown) {
				b.log.Warn().Int("results", b.results.Len()+1).
					Msg("shutting down while not connected to the MQTT broker: results not published are published at the next start")
				return
			}
			b.acks.Push(pendingAck{seq: o.Seq, topic: topic, token: t})
		}
	}
}

// room waits until fewer than resultsInFlight results wait for the
// broker's acknowledgement, and takes a place among them. Once ctx has
// ended it waits ackWait at most, and reports false if no place came.
func (b *Bridge) room(ctx context.Context) bool {
	select {
	case b.inFlight <- struct{}{}:
		return true
	case <-ctx.Done():
	}
	t := time.NewTimer(ackWait)
	defer t.Stop()
	select {
	case b.inFlight <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// awaitAcks marks entries done as the broker acknowledges their results,
// in the order published, until publishResults has finished and every
// result it published is acknowledged, or stop ends.
func (b *Bridge) awaitAcks(stop context.Context) {
	var (
		done []uint64
		held int // places in b.inFlight of results acknowledged and not yet marked done
	)
	// The places are given back only once the entries are marked done: a
	// kill repeats at most resultsInFlight results.
	flush := func() {
		if len(done) > 0 {
			if err := b.deps.Outbox.Done(done...); err != nil {
				b.log.Error().Err(err).Int("entries", len(done)).
					Msg("cannot mark delivered entries done in the outbox; their results are published again after a restart")
			}
			done = done[:0]
		}
		for ; held > 0; held-- {
			<-b.inFlight
		}
	}
	defer flush()
	for {
		batch := b.acks.Take(context.Background(), resultBatch)
		for _, p := range batch {
			if p.token == nil {
				return
			}
			select {
			case <-p.token.Done():
			default:
				flush() // mark what is acknowledged while this one waits
				select {
				case <-p.token.Done():
				case <-stop.Done():
					return
				}
			}
			held++
			if err := p.token.Error(); err != nil {
				b.log.Warn().Err(err).Str("topic", p.topic).
					Msg("cannot publish a result; it is published again at the next start")
				continue
			}
			if p.seq != 0 {
				done = append(done, p.seq)
			}
		}
		flush() // before waiting for more
	}
}

// reject publishes the result of a message that is not stored, and waits
// until the broker has it or ctx ends: the message is acknowledged only
// after, so that a crash in between has the broker send it again and the
// refusal is reported then.
func (b *Bridge) reject(ctx context.Context, rs []rejection) {
	tokens := make([]mqtt.Token, 0, len(rs))
	for _, r := range rs {
		b.log.Warn().Str("recipient", r.name).Str("id", r.result.ID).Str("error", r.result.Error.Message).Msg("message refused")
		b.deps.Metrics.Result(r.name, string(r.result.Status))
		tokens = append(tokens, b.publish(b.topics.Result(r.name), false, r.result.Encode()))
	}
	for _, t := range tokens {
		select {
		case <-t.Done():
		case <-ctx.Done():
			return
		}
	}
}
