package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/household"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// rejection is a result owed for input that will not be delivered.
type rejection struct {
	name   string // recipient, or "" when none can be named
	result delivery.Result
}

// intake stores messages from the inbox in the outbox, acknowledges them and
// hands them to the dispatcher, a batch per transaction, in arrival order.
// Messages still in the inbox at shutdown are not acknowledged, so the
// broker keeps them for the next session.
func (b *Bridge) intake(ctx context.Context) {
	for {
		batch := b.inbox.Take(ctx, intakeBatch)
		if batch == nil || !b.writable(ctx) {
			return
		}
		for len(batch) > 0 {
			n := fitting(batch, intakeBytes)
			b.store(ctx, batch[:n])
			batch = batch[n:]
		}
	}
}

// intakeRetry is how often the intake tries the outbox again while it
// cannot be written.
const intakeRetry = 5 * time.Second

// writable returns once the outbox can be written, reporting true, or once
// ctx ends, reporting false. While the outbox cannot be written (DATA_DIR
// is full, say), the bridge takes no message: the messages wait at the
// broker, unacknowledged, rather than being refused, and /readyz says why
// (outbox.Outbox.Writable). What is delivered meanwhile is still recorded,
// in the room the journal reserves ahead.
func (b *Bridge) writable(ctx context.Context) bool {
	err := b.deps.Outbox.Writable()
	if err == nil {
		return true
	}
	b.log.Error().Err(err).Str("data_dir", b.cfg.DataDir).
		Msg("the outbox cannot be written: taking no messages until it can; they wait at the broker (is DATA_DIR full?)")
	t := time.NewTicker(intakeRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if err = b.deps.Outbox.Retry(); err == nil {
			b.log.Info().Str("data_dir", b.cfg.DataDir).Msg("the outbox can be written again: taking messages")
			return true
		}
	}
}

// intakeBytes bounds the payloads stored in one transaction: a batch of
// large messages is held in memory several times over (payload, parsed
// message, stored form) until its transaction ends.
const intakeBytes = 2 << 20

// fitting returns how many messages from the start of batch, one at least,
// have payloads of max bytes together.
func fitting(batch []inbound, max int) int {
	size := 0
	for i, in := range batch {
		if size += len(in.msg.Payload()); size > max && i > 0 {
			return i
		}
	}
	return len(batch)
}

func (b *Bridge) store(ctx context.Context, batch []inbound) {
	var (
		items    []outbox.Item
		from     []int                             // the index in batch of each item's MQTT message
		rejected = make([][]rejection, len(batch)) // what each message owes, reported in arrival order
	)
	for i, in := range batch {
		item, rej := b.accept(in)
		rejected[i] = rej
		if len(item.To) > 0 {
			items = append(items, item)
			from = append(from, i)
		}
	}
	var stored []outbox.Ref
	if len(items) > 0 {
		outcomes, err := b.deps.Outbox.Add(time.Now(), items)
		if err != nil {
			b.log.Error().Err(err).Int("messages", len(items)).Msg("cannot write to the outbox")
			err = fmt.Errorf("cannot store the message in the outbox (DATA_DIR %s): %w", b.cfg.DataDir, err)
			for i, it := range items {
				rejected[from[i]] = append(rejected[from[i]], refuse(it, err)...)
			}
		}
		for i, o := range outcomes {
			m := from[i]
			switch o.Status {
			case outbox.Stored:
				for k := range o.Refs {
					// Delivery counts latency_ms and MESSAGE_TTL from arrival on
					// MQTT, a monotonic reading; the outbox keeps its write time.
					o.Refs[k].Accepted = batch[m].at
				}
				stored = append(stored, o.Refs...)
			case outbox.Duplicate:
				if batch[m].msg.Duplicate() {
					// The broker sent it again because the bridge went away
					// before acknowledging it: it was stored the first time,
					// and its results, refusals included, were owed then.
					b.log.Debug().Str("id", items[i].ID).Msg("broker redelivery of a stored message ignored")
					rejected[m] = nil
					continue
				}
				rejected[m] = append(rejected[m], refuse(items[i],
					fmt.Errorf("duplicate: a message with id %q was accepted in the last 24 hours; not sent again", items[i].ID))...)
			case outbox.Full, outbox.FullBytes:
				rejected[m] = append(rejected[m], refuse(items[i], b.full(o))...)
			}
		}
	}
	for _, e := range stored {
		b.deps.Metrics.Received(e.Recipient)
	}
	b.dispatcher.Enqueue(stored...)
	b.reject(ctx, slices.Concat(rejected...))
	ack(batch)
}

func refuse(it outbox.Item, err error) []rejection {
	out := make([]rejection, len(it.To))
	for i, to := range it.To {
		out[i] = rejection{name: to.Name, result: delivery.Failure(it.Message.ID, err)}
	}
	return out
}

// full says why the outbox refused a message, with what was waiting then.
func (b *Bridge) full(o outbox.Outcome) error {
	if o.Status == outbox.FullBytes {
		return fmt.Errorf("outbox full: %s waiting in %s, and this message takes %s, beyond OUTBOX_MAX_BYTES %s; message refused",
			config.ByteSize(o.WaitingBytes), plural(o.Waiting, "message"), config.ByteSize(o.Bytes), b.cfg.OutboxMaxBytes)
	}
	return fmt.Errorf("outbox full: %s waiting, and this one adds %d, beyond OUTBOX_MAX %d; message refused",
		plural(o.Waiting, "message"), o.Entries, b.cfg.OutboxMax)
}

// plural returns n and noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// accept turns one MQTT message into outbox entries, one per person it
// addresses, and rejections for everything it cannot deliver.
func (b *Bridge) accept(in inbound) (outbox.Item, []rejection) {
	topic := in.msg.Topic()
	name, ok := b.topics.Recipient(topic)
	if !ok {
		// A subscription left in the persistent session by an earlier
		// configuration (another base topic, discovery since turned off).
		b.log.Debug().Str("topic", topic).Msg("ignoring a message on a topic the bridge no longer serves")
		return outbox.Item{}, nil
	}
	if name != "" && !household.ValidName(name) {
		return outbox.Item{}, []rejection{{result: delivery.Failure("", fmt.Errorf(
			"topic %s: a recipient name is 1 to 64 lower-case letters, digits, '_' or '-'", topic))}}
	}
	fail := func(id string, err error) (outbox.Item, []rejection) {
		return outbox.Item{}, b.rejectAll(name, id, err)
	}
	if b.retainedClear(in.msg) {
		return outbox.Item{}, nil
	}
	if in.msg.Retained() {
		b.cleared.refused(topic)
		return fail("", errors.New("retained message ignored: publish commands without the retain flag, or every restart would send them again"))
	}
	msg, err := message.Parse(in.msg.Payload())
	if err != nil {
		if name == "" && len(msg.Targets) > 0 {
			return outbox.Item{}, b.rejectTargets(msg.Targets, msg.ID, err)
		}
		return fail(msg.ID, err)
	}
	if len(msg.Unknown) > 0 {
		b.log.Debug().Strs("keys", msg.Unknown).Str("topic", topic).Msg("ignoring unknown payload keys")
	}
	names := msg.Targets
	switch {
	case name != "" && len(names) > 0:
		return fail(msg.ID, fmt.Errorf(`"target" is read only on %s; this topic already names %s`, b.topics.NotifyAny(), name))
	case name != "":
		names = []string{name}
	case len(names) == 0:
		return fail(msg.ID, fmt.Errorf(`no recipient: publish to %s or give "target"`, b.topics.Notify("<name>")))
	}

	item := outbox.Item{ID: msg.ID, Message: msg}
	if msg.ID == "" {
		// The broker resends a message it had no acknowledgement for with
		// its packet identifier and the DUP flag (MQTT 3.1.1 section
		// 4.4), as after the bridge was killed between storing a batch and
		// acknowledging it: the outbox knows it by these.
		item.Delivery = in.msg.Topic() + "\x00" + string(in.msg.Payload())
		item.Packet = in.msg.MessageID()
		item.Redelivered = in.msg.Duplicate()
	}
	var rejected []rejection
	seen := make(map[string]bool)
	for _, n := range names {
		people, ok := b.cfg.Household.Resolve(n)
		if !ok {
			rejected = append(rejected, rejection{name: n, result: delivery.Failure(msg.ID, b.unknownName(n))})
			continue
		}
		for _, p := range people {
			if seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			item.To = append(item.To, outbox.Recipient{Name: p.Name, PSID: p.PSID})
		}
	}
	return item, rejected
}

// rejectTargets reports err once to each person the targets address, however
// many of the targets hold them, and once to each unknown target.
func (b *Bridge) rejectTargets(targets []string, id string, err error) []rejection {
	var out []rejection
	seen := make(map[string]bool)
	for _, t := range targets {
		for _, r := range b.rejectAll(t, id, err) {
			if !seen[r.name] {
				seen[r.name] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// rejectAll reports err to every person name addresses, or once on the
// generic result topic when name is empty or unknown.
func (b *Bridge) rejectAll(name, id string, err error) []rejection {
	people, ok := b.cfg.Household.Resolve(name)
	if !ok {
		if name != "" {
			err = fmt.Errorf("%w; also: %w", b.unknownName(name), err)
		}
		return []rejection{{name: name, result: delivery.Failure(id, err)}}
	}
	out := make([]rejection, len(people))
	for i, p := range people {
		out[i] = rejection{name: p.Name, result: delivery.Failure(id, err)}
	}
	return out
}

func (b *Bridge) unknownName(name string) error {
	return fmt.Errorf("unknown recipient %q: configured names are %s (RECIPIENTS, GROUPS)", name, strings.Join(b.cfg.Household.Names(), ", "))
}
