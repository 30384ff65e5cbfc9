package outbox

import (
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Recorded is an entry whose outcome is known but whose result the broker
// has not acknowledged: Outcomes lists them after a restart, so that the
// result is published without the message being sent again.
type Recorded struct {
	Seq       uint64
	Recipient string
	// Result is what Record was given, byte for byte.
	Result []byte
}

// Record records the outcome of the pending entry seq: result is the
// result to publish, as the bridge encodes it. From then on the entry is
// not in Pending, and it is in Outcomes until Done, which the caller makes
// once the broker has the result. An entry unknown, done or already
// recorded is left as it is.
//
// Record writes one journal record and does not wait for the disk: it
// survives the process being killed, not a power loss. If the record
// cannot be written (a full disk), Record returns the error, and Writable
// reports it until a write succeeds; the outcome is still held in memory,
// so this process does not deliver the entry again, but after a restart
// the entry is pending again. The journal writes into room reserved ahead
// (journalReserve), so a disk filling up first shows as an error from
// Writable while records still succeed.
func (o *Outbox) Record(seq uint64, result []byte) error {
	if len(result) > maxOutcome {
		return fmt.Errorf("outbox %s: outcome of entry %d is %d bytes, beyond %d", o.path, seq, len(result), maxOutcome)
	}
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.journal == nil {
		return fmt.Errorf("outbox %s is closed", o.path)
	}
	if _, ok := o.recorded[seq]; ok || o.journal.has(seq) {
		return nil
	}
	result = slices.Clone(result)
	o.recorded[seq] = result
	if err := o.wrote(o.journal.record(seq, result)); err != nil {
		return fmt.Errorf("outbox %s: record the outcome of entry %d: %w", o.path, seq, err)
	}
	return nil
}

// Outcomes returns the entries with an outcome recorded and not yet done,
// in Seq order: after a restart, the results the broker may never have
// had.
func (o *Outbox) Outcomes() ([]Recorded, error) {
	o.doneMu.Lock()
	recorded := maps.Clone(o.recorded)
	o.doneMu.Unlock()
	out := make([]Recorded, 0, len(recorded))
	err := safely(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			entries := tx.Bucket(entriesBucket)
			for _, seq := range slices.Sorted(maps.Keys(recorded)) {
				r, err := decodeRecord(entries.Get(seqKey(seq)))
				if err != nil {
					continue // gone, or unreadable: nobody to publish to
				}
				out = append(out, Recorded{Seq: seq, Recipient: r.Recipient, Result: recorded[seq]})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read recorded outcomes: %w", o.path, err)
	}
	return out, nil
}

// Retry tries again to write what Writable reports failing: it writes to
// the journal where its next record goes, which holds a zero already, and
// extends the journal's reserve; it reports the error that remains, nil once the
// outbox can be written again. It is what a caller that stopped taking
// messages calls now and then.
func (o *Outbox) Retry() error {
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.journal == nil {
		return fmt.Errorf("outbox %s is closed", o.path)
	}
	if o.writeErr.Load() == nil {
		return nil
	}
	if err := o.wrote(o.journal.probe()); err != nil {
		return fmt.Errorf("outbox %s: %w", o.path, err)
	}
	return nil
}
