package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// compactAt is how many journalled removals trigger their removal from the
// database: one fsynced transaction per compactAt entries done, and a
// journal of at most a few pages.
const compactAt = 1024

// compactBytes is how many bytes of done messages trigger compaction too,
// so that the file holds little beyond what waits.
const compactBytes = 16 << 20

// releaseEvery is how many removals a compaction makes between two
// releases of the pages it read (see release): each may map a large
// message's pages.
const releaseEvery = 16

// Done marks the entries with the given Seqs as done: they leave Len and
// Pending at once, and do not come back after a restart. Unknown Seqs and
// entries already done are ignored.
//
// Done returns without waiting for the disk. Its record survives the
// process being killed; after a power loss the entries done in the last
// moments may be pending again. If Done returns an error, the entries may
// be pending again after a restart.
func (o *Outbox) Done(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	seqs = slices.Compact(slices.Sorted(slices.Values(seqs)))
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.journal == nil {
		return fmt.Errorf("outbox %s is closed", o.path)
	}
	// Only compact removes entries from the database, and it holds doneMu:
	// what this transaction sees stays true until Done returns.
	for _, seq := range seqs {
		delete(o.recorded, seq)
	}
	var fresh []uint64
	var freed, freedMsgs int64
	err := safely(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			fresh, freed, freedMsgs = o.leaving(tx, seqs)
			return nil
		})
	})
	if err == nil && len(fresh) > 0 {
		err = o.wrote(o.journal.add(fresh))
	}
	if err != nil {
		return fmt.Errorf("outbox %s: mark %d entries done: %w", o.path, len(seqs), err)
	}
	o.touched(treePage) // the small records read on the way
	o.pending.Add(-int64(len(fresh)))
	o.bytes.Add(-freed)
	o.doneBytes += freedMsgs
	if o.journal.len() >= compactAt || o.doneBytes >= compactBytes {
		if err := o.compact(); err != nil {
			return fmt.Errorf("outbox %s: %w", o.path, err)
		}
	}
	return nil
}

// leaving returns the seqs, sorted, that name pending entries, and the
// bytes they free: their records, and the messages no other pending entry
// refers to; freedMsgs is the part of it taken by messages. o.doneMu must
// be held.
func (o *Outbox) leaving(tx *bolt.Tx, seqs []uint64) (fresh []uint64, freed, freedMsgs int64) {
	b := tx.Bucket(entriesBucket)
	leave := make(map[uint64]bool)
	msgs := make(map[uint64]int64) // message key → size
	for _, seq := range seqs {
		v := b.Get(seqKey(seq))
		if v == nil || o.journal.has(seq) {
			continue
		}
		fresh = append(fresh, seq)
		leave[seq] = true
		freed += int64(len(v))
		if r, err := decodeRecord(v); err == nil {
			msgs[r.Msg] = r.Size
		}
	}
	for msg, size := range msgs {
		if !referenced(b, msg, func(seq uint64) bool { return !leave[seq] && !o.journal.has(seq) }) {
			freed += size
			freedMsgs += size
		}
	}
	return fresh, freed, freedMsgs
}

// referenced reports whether an entry of b for which keep is true refers to
// the message with key msg. The entries referring to a message follow each
// other from the Seq equal to its key, so only they are read.
func referenced(b *bolt.Bucket, msg uint64, keep func(seq uint64) bool) bool {
	c := b.Cursor()
	for k, v := c.Seek(seqKey(msg)); k != nil; k, v = c.Next() {
		r, err := decodeRecord(v)
		if err != nil || r.Msg != msg {
			return false
		}
		if len(k) == 8 && keep(binary.BigEndian.Uint64(k)) {
			return true
		}
	}
	return false
}

// compact removes the journalled entries from the database in one fsynced
// transaction, then empties the journal; o.doneMu must be held. If it
// fails, the journal still holds every removal and a later compact or Open
// applies them.
func (o *Outbox) compact() error {
	n := o.journal.len()
	if n == 0 && len(o.journal.outcomes) == 0 {
		return nil
	}
	err := safely(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			if err := keepOutcomes(tx, o.journal.outcomes); err != nil {
				return err
			}
			return removeEntries(tx, o.journal.sorted())
		})
	})
	if err == nil {
		o.unmap()
		err = o.journal.reset()
		o.doneBytes = 0
	}
	if err != nil {
		return fmt.Errorf("remove %d done entries from the database: %w", n, err)
	}
	return nil
}

// snapshot begins a read transaction together with the set of Seqs done
// or with an outcome recorded, but still in it. The caller must roll the transaction back.
func (o *Outbox) snapshot() (*bolt.Tx, map[uint64]struct{}, error) {
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.journal == nil {
		return nil, nil, errors.New("closed")
	}
	tx, err := o.db.Begin(false)
	if err != nil {
		return nil, nil, err
	}
	skip := maps.Clone(o.journal.seqs)
	for seq := range o.recorded {
		skip[seq] = struct{}{}
	}
	return tx, skip, nil
}

// removeEntries deletes the entries with the given Seqs, in ascending order,
// and then the messages no entry refers to any more; missing ones are
// skipped.
func removeEntries(tx *bolt.Tx, seqs []uint64) error {
	b, msgs, outcomes := tx.Bucket(entriesBucket), tx.Bucket(messagesBucket), tx.Bucket(outcomesBucket)
	var orphans []uint64 // candidates, in ascending order
	for i, seq := range seqs {
		if i%releaseEvery == 0 {
			release(tx.DB(), tx)
		}
		k := seqKey(seq)
		v := b.Get(k)
		if v == nil {
			continue
		}
		if r, err := decodeRecord(v); err == nil && (len(orphans) == 0 || orphans[len(orphans)-1] != r.Msg) {
			orphans = append(orphans, r.Msg)
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		if err := outcomes.Delete(k); err != nil {
			return err
		}
	}
	for i, msg := range orphans {
		if i%releaseEvery == 0 {
			release(tx.DB(), tx)
		}
		if referenced(b, msg, func(uint64) bool { return true }) {
			continue
		}
		if err := msgs.Delete(seqKey(msg)); err != nil {
			return err
		}
	}
	return nil
}

// keepOutcomes stores outcomes in the database, each only while its entry
// is there: a stale record of an entry gone is dropped.
func keepOutcomes(tx *bolt.Tx, outcomes map[uint64][]byte) error {
	entries, b := tx.Bucket(entriesBucket), tx.Bucket(outcomesBucket)
	for _, seq := range slices.Sorted(maps.Keys(outcomes)) {
		if entries.Get(seqKey(seq)) == nil {
			continue
		}
		if err := b.Put(seqKey(seq), outcomes[seq]); err != nil {
			return err
		}
	}
	return nil
}
