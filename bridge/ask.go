package bridge

import (
	"fmt"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// Ask sends m, a message the bridge itself composed (the keep-alive
// question), to the person called name through the outbox, as if it had
// arrived on MQTT: stored, delivered in order with that person's other
// messages, and reported on their result topic. An id accepted in the last
// 24 hours is not sent again. It implements keepalive.Asker and does not
// block on the broker.
func (b *Bridge) Ask(name string, m message.Message) error {
	r, ok := b.cfg.Household.Recipient(name)
	if !ok {
		return fmt.Errorf("ask: %q is not in RECIPIENTS", name)
	}
	outcomes, err := b.deps.Outbox.Add(time.Now(), []outbox.Item{{ID: m.ID,
		Entries: []outbox.Entry{{Recipient: r.Name, PSID: r.PSID, Message: m}}}})
	if err != nil {
		return fmt.Errorf("ask %s: cannot store the message in the outbox (DATA_DIR %s): %w", name, b.cfg.DataDir, err)
	}
	switch o := outcomes[0]; o.Status {
	case outbox.Stored:
		b.deps.Metrics.Received(r.Name)
		b.dispatcher.Enqueue(o.Entries...)
	case outbox.Full:
		return fmt.Errorf("ask %s: outbox full (OUTBOX_MAX)", name)
	}
	return nil
}
