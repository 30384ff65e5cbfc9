package outbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneInterval spaces out the removal of expired IDs, so that work is spread
// over Adds instead of repeated on each.
const pruneInterval = time.Minute

// Item is one incoming message fanned out to its recipients.
type Item struct {
	// ID is the idempotency key; "" means none.
	ID string
	// Entries are the message for each recipient. Add assigns Seq, Batch
	// and Accepted; other fields are stored as given. An item without
	// entries only records its ID.
	Entries []Entry
}

// Status says what Add did with an Item.
type Status int

const (
	// Stored means the item's entries are on disk.
	Stored Status = iota
	// Duplicate means an item with the same ID was accepted within
	// IdempotencyWindow; nothing was stored.
	Duplicate
	// Full means storing the item would exceed the maximum of pending
	// entries; nothing was stored and its ID was not recorded.
	Full
)

func (s Status) String() string {
	switch s {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Full:
		return "full"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Outcome is the result of adding one Item.
type Outcome struct {
	Status Status
	// Entries are the stored entries, with Seq, Batch and Accepted set;
	// nil unless Status is Stored.
	Entries []Entry
}

// Add stores items in order, in one transaction, and returns once it is on
// disk, with one Outcome per item. An item is stored whole or not at all. If
// Add returns an error, nothing was stored.
//
// now is the time of acceptance: it is recorded in each entry and decides
// which IDs are still within IdempotencyWindow.
func (o *Outbox) Add(now time.Time, items []Item) ([]Outcome, error) {
	if len(items) == 0 {
		return nil, nil
	}
	o.addMu.Lock()
	defer o.addMu.Unlock()

	prune := now.Sub(o.lastPrune) >= pruneInterval || now.Before(o.lastPrune)
	var outcomes []Outcome
	var added int64
	// Update runs the function once; the results are used only if it commits.
	err := o.db.Update(func(tx *bolt.Tx) error {
		if prune {
			if err := pruneIDs(tx, now); err != nil {
				return fmt.Errorf("prune expired IDs: %w", err)
			}
		}
		a := adder{
			entries: tx.Bucket(entriesBucket),
			ids:     tx.Bucket(idsBucket),
			idTimes: tx.Bucket(idTimesBucket),
			now:     now,
			room:    int64(o.max) - o.pending.Load(),
		}
		outcomes = make([]Outcome, len(items))
		for i, it := range items {
			out, err := a.add(it)
			if err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
			outcomes[i] = out
		}
		added = a.added
		return nil
	})
	if err != nil {
		return nil, o.wrote(fmt.Errorf("outbox %s: store %d messages: %w", o.path, len(items), err))
	}
	o.wrote(nil)
	o.pending.Add(added)
	if prune {
		o.lastPrune = now
	}
	return outcomes, nil
}

// adder stores items within one write transaction.
type adder struct {
	entries, ids, idTimes *bolt.Bucket
	now                   time.Time
	room                  int64 // entries that may still be stored
	added                 int64 // entries stored so far
}

func (a *adder) add(it Item) (Outcome, error) {
	var key, oldIndex []byte
	if it.ID != "" {
		key = idKey(it.ID)
		if v := a.ids.Get(key); v != nil {
			at := decodeTime(v)
			if a.now.Sub(at) < IdempotencyWindow {
				return Outcome{Status: Duplicate}, nil
			}
			oldIndex = idTimeKey(at, key)
		}
	}
	if int64(len(it.Entries)) > a.room {
		return Outcome{Status: Full}, nil
	}

	stored := make([]Entry, len(it.Entries))
	var batch uint64
	for i, e := range it.Entries {
		seq, err := a.entries.NextSequence()
		if err != nil {
			return Outcome{}, err
		}
		if i == 0 {
			batch = seq
		}
		e.Seq, e.Batch, e.Accepted = seq, batch, a.now
		v, err := json.Marshal(record{
			Batch: e.Batch, Recipient: e.Recipient, PSID: e.PSID,
			Accepted: e.Accepted, Message: e.Message,
		})
		if err != nil {
			return Outcome{}, fmt.Errorf("encode entry for %s: %w", e.Recipient, err)
		}
		if err := a.entries.Put(seqKey(seq), v); err != nil {
			return Outcome{}, err
		}
		stored[i] = e
	}
	a.room -= int64(len(stored))
	a.added += int64(len(stored))

	if key != nil {
		// An expired ID not yet pruned loses its old index entry, so the
		// index never points at a newer acceptance.
		if oldIndex != nil {
			if err := a.idTimes.Delete(oldIndex); err != nil {
				return Outcome{}, err
			}
		}
		if err := a.ids.Put(key, encodeTime(a.now)); err != nil {
			return Outcome{}, err
		}
		if err := a.idTimes.Put(idTimeKey(a.now, key), []byte{}); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Status: Stored, Entries: stored}, nil
}

// pruneIDs forgets IDs accepted IdempotencyWindow or more before now. The
// time-ordered index makes this a walk over expired IDs only.
func pruneIDs(tx *bolt.Tx, now time.Time) error {
	ids, idTimes := tx.Bucket(idsBucket), tx.Bucket(idTimesBucket)
	cutoff := encodeTime(now.Add(-IdempotencyWindow))
	var expired [][]byte
	c := idTimes.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cutoff) <= 0; k, _ = c.Next() {
		expired = append(expired, bytes.Clone(k))
	}
	// Deleting while iterating a bbolt cursor can skip keys, hence two passes.
	for _, k := range expired {
		if err := idTimes.Delete(k); err != nil {
			return err
		}
		if err := ids.Delete(k[8:]); err != nil {
			return err
		}
	}
	return nil
}

// idKey is the stored form of an ID: a fixed-size hash, so that IDs of any
// length fit under bbolt's key size limit.
func idKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func idTimeKey(t time.Time, key []byte) []byte {
	return append(encodeTime(t), key...)
}

// encodeTime orders times bytewise for times after 1970.
func encodeTime(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decodeTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}
