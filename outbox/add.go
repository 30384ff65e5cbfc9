package outbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	bolt "go.etcd.io/bbolt"
)

// pruneInterval spaces out the removal of expired IDs, so that work is spread
// over Adds instead of repeated on each.
const pruneInterval = time.Minute

// Item is one incoming message and the people it goes to.
type Item struct {
	// ID is the idempotency key; "" means none.
	ID string
	// Message is what to send; it is stored once for all of To.
	Message message.Message
	// To are the recipients, one entry each, in order. An item without
	// recipients only records its ID or Delivery.
	To []Recipient
	// Delivery and Packet name how the item arrived, for an item without
	// an ID: on MQTT, its topic and payload, and its packet identifier. A
	// broker sends a message it never had acknowledged again with the same
	// packet identifier (MQTT 3.1.1 section 4.4), so an item with
	// Redelivered set whose Delivery and Packet were stored within
	// IdempotencyWindow is a Duplicate. Without Redelivered, the same
	// Delivery and Packet stored before are taken as a new message (the
	// broker reuses packet identifiers) and replace it.
	Delivery    string
	Packet      uint16
	Redelivered bool
}

// Recipient is a person an Item goes to.
type Recipient struct {
	Name string // e.g. "alice"
	PSID string
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
	// FullBytes is Full for the maximum of bytes waiting.
	FullBytes
)

func (s Status) String() string {
	switch s {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Full:
		return "full"
	case FullBytes:
		return "full (bytes)"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Outcome is the result of adding one Item.
type Outcome struct {
	Status Status
	// Refs name the stored entries, one per recipient in order; nil unless
	// Status is Stored.
	Refs []Ref
	// Entries and Bytes are what the item takes, or would have taken:
	// one entry per recipient, and its records and message in bytes.
	Entries int
	Bytes   int64
	// Waiting and WaitingBytes are what was pending when Add decided.
	Waiting      int
	WaitingBytes int64
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
	var added, addedBytes int64
	// Update runs the function once; the results are used only if it commits.
	err := o.db.Update(func(tx *bolt.Tx) error {
		if prune {
			if err := pruneIDs(tx, now); err != nil {
				return fmt.Errorf("prune expired IDs: %w", err)
			}
		}
		a := adder{
			entries:  tx.Bucket(entriesBucket),
			messages: tx.Bucket(messagesBucket),
			ids:      tx.Bucket(idsBucket),
			idTimes:  tx.Bucket(idTimesBucket),
			now:      now,
			pending:  o.pending.Load(),
			bytes:    o.bytes.Load(),
			max:      int64(o.max),
			maxBytes: o.maxBytes,
		}
		outcomes = make([]Outcome, len(items))
		for i, it := range items {
			out, err := a.add(it)
			if err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
			outcomes[i] = out
		}
		added, addedBytes = a.added, a.addedBytes
		return nil
	})
	if err != nil {
		return nil, o.wrote(fmt.Errorf("outbox %s: store %d messages: %w", o.path, len(items), err))
	}
	o.wrote(nil)
	o.touched(addedBytes + treePage)
	o.pending.Add(added)
	o.bytes.Add(addedBytes)
	if prune {
		o.lastPrune = now
	}
	return outcomes, nil
}

// key returns the stored key of it's ID, or without one of its Delivery,
// nil for neither; repeats says whether the same key accepted within
// IdempotencyWindow makes it a Duplicate (always for an ID, for a Delivery
// only when Redelivered).
func (it Item) key() (key []byte, repeats bool) {
	switch {
	case it.ID != "":
		return idKey(it.ID), true
	case it.Delivery != "":
		return deliveryIDKey(it.Packet, it.Delivery), it.Redelivered
	}
	return nil, false
}

// deliveryIDKey is the stored form of a delivery: as long as an idKey, led
// by the packet identifier, which a broker gives out in turn, so that the
// keys of messages arriving one after the other are stored side by side.
// Random keys (as sha256 alone gives) put each message's key on a page of
// its own, which the transaction then copies and writes: that cost a
// sixth of the bridge's CPU under load. A key of an ID shares their length
// and bucket; telling them apart rests on the 240 bits of hash each holds.
func deliveryIDKey(packet uint16, delivery string) []byte {
	h := sha256.Sum256([]byte("\x00delivery\x00" + delivery))
	key := make([]byte, sha256.Size)
	binary.BigEndian.PutUint16(key, packet)
	copy(key[2:], h[:]) // all but the hash's last two bytes
	return key
}

// adder stores items within one write transaction.
type adder struct {
	entries, messages, ids, idTimes *bolt.Bucket
	now                             time.Time
	pending, bytes                  int64 // waiting, this transaction's items included
	max, maxBytes                   int64
	added, addedBytes               int64 // by this transaction
}

func (a *adder) add(it Item) (Outcome, error) {
	var oldIndex []byte
	key, repeats := it.key()
	if key != nil {
		if v := a.ids.Get(key); v != nil {
			at := decodeTime(v)
			if repeats && a.now.Sub(at) < IdempotencyWindow {
				return Outcome{Status: Duplicate}, nil
			}
			oldIndex = idTimeKey(at, key)
		}
	}
	out := Outcome{Entries: len(it.To), Waiting: int(a.pending), WaitingBytes: a.bytes}
	if len(it.To) == 0 {
		return out, a.remember(key, oldIndex)
	}
	msg, err := json.Marshal(it.Message)
	if err != nil {
		return Outcome{}, fmt.Errorf("encode message: %w", err)
	}
	// The Seqs are known before they are taken, so that a refused item
	// takes none.
	batch := a.entries.Sequence() + 1
	records := make([][]byte, len(it.To))
	out.Bytes = int64(len(msg))
	for i, to := range it.To {
		v := record{Batch: batch, Recipient: to.Name, PSID: to.PSID,
			Accepted: a.now, Msg: batch, Size: int64(len(msg))}.appendTo(nil)
		records[i] = v
		out.Bytes += int64(len(v))
	}
	switch {
	case a.pending+int64(len(it.To)) > a.max:
		out.Status = Full
		return out, nil
	case a.bytes+out.Bytes > a.maxBytes:
		out.Status = FullBytes
		return out, nil
	}

	if err := a.messages.Put(seqKey(batch), msg); err != nil {
		return Outcome{}, err
	}
	out.Refs = make([]Ref, len(it.To))
	for i, to := range it.To {
		seq := batch + uint64(i)
		if err := a.entries.Put(seqKey(seq), records[i]); err != nil {
			return Outcome{}, err
		}
		out.Refs[i] = Ref{Seq: seq, Batch: batch, Recipient: to.Name, PSID: to.PSID, Accepted: a.now, Size: int64(len(msg))}
	}
	if err := a.entries.SetSequence(batch + uint64(len(it.To)) - 1); err != nil {
		return Outcome{}, err
	}
	a.pending += int64(len(it.To))
	a.bytes += out.Bytes
	a.added += int64(len(it.To))
	a.addedBytes += out.Bytes
	out.Status = Stored
	return out, a.remember(key, oldIndex)
}

// remember records that an item with the given idKey was accepted now;
// oldIndex is the index entry of its earlier, expired acceptance.
func (a *adder) remember(key, oldIndex []byte) error {
	if key == nil {
		return nil
	}
	// An expired ID not yet pruned loses its old index entry, so the index
	// never points at a newer acceptance.
	if oldIndex != nil {
		if err := a.idTimes.Delete(oldIndex); err != nil {
			return err
		}
	}
	if err := a.ids.Put(key, encodeTime(a.now)); err != nil {
		return err
	}
	return a.idTimes.Put(idTimeKey(a.now, key), []byte{})
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
