package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The layout of the file, by format version. The version is kept in the
// meta bucket; a file without one is version 1.
//
// Version 1: "entries" maps each Seq to a v1Record, which holds the whole
// message: a message for three people is stored three times.
//
// Version 2: "messages" maps a message key (the Seq of the first entry
// that refers to it, which is its Batch) to the message as JSON, stored
// once; "entries" maps each Seq to a record naming that key. A message is
// deleted when the last entry referring to it is.
//
// Version 3 adds "outcomes": Seq → the result of an entry that was
// delivered (or failed, or expired) but whose result the broker has not
// acknowledged, moved there from the journal at compaction. Its journal
// (see journal.go) is in journal format 2.
//
// Version 4 writes entry records in a binary form (record.appendTo) instead
// of JSON, which took a tenth of the bridge's CPU to decode: every record
// is read when its entry is loaded and again when it is done. Records
// written by version 2 or 3 stay JSON until their entries are done; both
// forms are read. Its keys of deliveries in "ids" are led by the packet
// identifier (deliveryIDKey); a key of an earlier version is not found
// again, so a message caught by a kill just before the upgrade, which the
// broker sends again after it, is stored and sent again.
//
// Every version keeps "ids" (idKey → accepted time) and "id_times"
// (accepted time + idKey → empty).
const formatVersion = 4

var (
	metaBucket     = []byte("meta")     // formatKey → version, big-endian uint64
	entriesBucket  = []byte("entries")  // Seq (big-endian) → record, binary or JSON
	messagesBucket = []byte("messages") // message key (big-endian) → message JSON
	idsBucket      = []byte("ids")      // idKey → accepted time
	idTimesBucket  = []byte("id_times") // accepted time + idKey → empty, for pruning
	outcomesBucket = []byte("outcomes") // Seq (big-endian) → result, until done

	formatKey = []byte("format")
)

// record is an entry as stored from version 2 on, in JSON and from version
// 4 in binary (record.appendTo); its Seq is the key.
type record struct {
	Batch     uint64    `json:"batch"`
	Recipient string    `json:"recipient"`
	PSID      string    `json:"psid"`
	Accepted  time.Time `json:"accepted"`
	// Msg is the key of the entry's message in messagesBucket, and Size
	// the length of that message as stored.
	Msg  uint64 `json:"msg"`
	Size int64  `json:"size"`
}

// v1Record is an entry as stored in version 1. The message stays raw JSON,
// so that moving it to version 2 does not depend on message.Message.
type v1Record struct {
	Batch     uint64          `json:"batch"`
	Recipient string          `json:"recipient"`
	PSID      string          `json:"psid"`
	Accepted  time.Time       `json:"accepted"`
	Message   json.RawMessage `json:"message"`
}

// binaryRecord is the first byte of a record in the binary form of
// version 4; a JSON record starts with '{'.
const binaryRecord = 0x04

// appendTo appends r in the binary form of version 4 to b: the byte
// binaryRecord, then Batch, Msg and Size as unsigned varints, and
// Accepted (see acceptedBinary), Recipient and PSID, each as an unsigned
// varint length and its bytes.
func (r record) appendTo(b []byte) []byte {
	b = append(b, binaryRecord)
	b = binary.AppendUvarint(b, r.Batch)
	b = binary.AppendUvarint(b, r.Msg)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = appendText(b, acceptedBinary(r.Accepted))
	b = appendText(b, r.Recipient)
	return appendText(b, r.PSID)
}

// appendText appends s to b as its length, an unsigned varint, and its bytes.
func appendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// acceptedBinary is t in time.Time's binary form, which keeps its zone
// offset as JSON does; a time whose offset that form cannot hold (east or
// west of UTC by more than about 22 days, or -1 minute, its marker for
// UTC) is kept in UTC.
func acceptedBinary(t time.Time) string {
	b, err := t.MarshalBinary()
	if err != nil {
		b, _ = t.UTC().MarshalBinary()
	}
	return string(b)
}

// errRecord is the error of a record that is cut short or malformed.
var errRecord = errors.New("malformed entry record")

// decodeRecord decodes an entry record of version 2 or later, binary or
// JSON. A record without a message key is an error.
func decodeRecord(v []byte) (record, error) {
	r, err := decodeAnyRecord(v)
	if err == nil && r.Msg == 0 {
		err = errors.New("no message key")
	}
	return r.record, err
}

func decodeBinaryRecord(v []byte) (record, error) {
	var r record
	var ok bool
	uvarint := func() uint64 {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			ok = false
			return 0
		}
		v = v[n:]
		return x
	}
	text := func() string {
		n := uvarint()
		if !ok || n > uint64(len(v)) {
			ok = false
			return ""
		}
		s := string(v[:n])
		v = v[n:]
		return s
	}
	ok = true
	r.Batch, r.Msg, r.Size = uvarint(), uvarint(), int64(uvarint())
	if accepted := text(); ok && r.Accepted.UnmarshalBinary([]byte(accepted)) != nil {
		return record{}, errRecord
	}
	r.Recipient = text()
	r.PSID = text()
	if !ok || len(v) != 0 {
		return record{}, errRecord
	}
	return r, nil
}

// decodeAnyRecord decodes an entry record of any version: one of version
// 1 holds its message instead of a message key.
func decodeAnyRecord(v []byte) (anyRecord, error) {
	var r anyRecord
	if len(v) > 0 && v[0] == binaryRecord {
		rec, err := decodeBinaryRecord(v[1:])
		return anyRecord{record: rec}, err
	}
	err := json.Unmarshal(v, &r)
	return r, err
}

func (r record) ref(seq uint64) Ref {
	return Ref{Seq: seq, Batch: r.Batch, Recipient: r.Recipient, PSID: r.PSID, Accepted: r.Accepted, Size: r.Size}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// ErrNewerFormat is returned by Open for a file written by a newer
// messenger-bridge, whose format this one cannot read. The file is left
// as it is.
var ErrNewerFormat = errors.New("written by a newer messenger-bridge")

// fileFormat returns the format version of the file tx reads: 0 for a
// file without buckets (new), 1 for one without a version.
func fileFormat(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		if tx.Bucket(entriesBucket) == nil {
			return 0, nil
		}
		return 1, nil
	}
	v := meta.Get(formatKey)
	if len(v) != 8 {
		return 0, fmt.Errorf("format version is %d bytes, want 8", len(v))
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// initialize creates the buckets of the current format in a new file.
func initialize(tx *bolt.Tx) error {
	for _, name := range [][]byte{metaBucket, entriesBucket, messagesBucket, idsBucket, idTimesBucket, outcomesBucket} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return setFormat(tx, formatVersion)
}

func setFormat(tx *bolt.Tx, version int) error {
	meta, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	return meta.Put(formatKey, binary.BigEndian.AppendUint64(nil, uint64(version)))
}

// migrations[v] moves a file from version v to v+1. Each may take several
// transactions, as long as a crash in between leaves a file it can resume
// from; the version is raised only once it is done.
var migrations = map[int]func(db *bolt.DB) error{
	1: migrate1to2,
	// Version 3 only adds a bucket, which upgrade creates; its journal
	// format 2 is read beside format 1 (readJournal).
	2: func(*bolt.DB) error { return nil },
	// Version 4 reads the JSON records of version 3 as they are.
	3: func(*bolt.DB) error { return nil },
}

// upgrade brings the file to formatVersion, a step at a time.
func upgrade(db *bolt.DB) error {
	var version int
	if err := db.View(func(tx *bolt.Tx) (err error) {
		version, err = fileFormat(tx)
		return err
	}); err != nil {
		return err
	}
	if version > formatVersion {
		return fmt.Errorf("format %d, %w (this one reads format %d at most): run that version, or move the file away to start empty",
			version, ErrNewerFormat, formatVersion)
	}
	for ; version > 0 && version < formatVersion; version++ {
		if err := migrations[version](db); err != nil {
			return fmt.Errorf("upgrade from format %d to %d: %w", version, version+1, err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return setFormat(tx, version+1) }); err != nil {
			return fmt.Errorf("upgrade from format %d to %d: %w", version, version+1, err)
		}
	}
	// A new file gets its buckets, and a file of this format any it lacks.
	return db.Update(initialize)
}

// migrateChunk bounds the bytes of entries moved in one transaction, so
// that an old outbox of any size is upgraded in bounded memory.
const migrateChunk = 8 << 20

// migrate1to2 stores the message of each version 1 entry once per batch
// and rewrites the entry as a record referring to it. It works through the
// entries in transactions of about migrateChunk bytes; an entry already
// rewritten by an interrupted run is skipped. An entry that cannot be
// decoded is left as it is: Pending reports it.
func migrate1to2(db *bolt.DB) error {
	var from uint64
	for more := true; more; {
		err := db.Update(func(tx *bolt.Tx) error {
			msgs, err := tx.CreateBucketIfNotExists(messagesBucket)
			if err != nil {
				return err
			}
			entries := tx.Bucket(entriesBucket)
			type rewrite struct {
				key, value []byte
			}
			var todo []rewrite
			var size int
			more = false
			c := entries.Cursor()
			for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
				if size >= migrateChunk {
					from, more = binary.BigEndian.Uint64(k), true
					break
				}
				var old v1Record
				if len(k) != 8 || json.Unmarshal(v, &old) != nil || old.Message == nil {
					continue // already rewritten, or unreadable
				}
				seq := binary.BigEndian.Uint64(k)
				// Entries of one batch were given the same message; should
				// one differ, it gets a copy of its own.
				msg := old.Batch
				if have := msgs.Get(seqKey(msg)); have != nil && !bytes.Equal(have, old.Message) {
					msg = seq
				}
				if msgs.Get(seqKey(msg)) == nil {
					if err := msgs.Put(seqKey(msg), bytes.Clone(old.Message)); err != nil {
						return err
					}
				}
				// JSON, as version 2 stores it: a file whose upgrade stops
				// here is still one an older bridge reads.
				nv, err := json.Marshal(record{Batch: old.Batch, Recipient: old.Recipient, PSID: old.PSID,
					Accepted: old.Accepted, Msg: msg, Size: int64(len(old.Message))})
				if err != nil {
					return err
				}
				todo = append(todo, rewrite{bytes.Clone(k), nv})
				size += len(v)
			}
			// Written after the walk: a bbolt cursor is not to be used
			// across changes to its bucket.
			for _, r := range todo {
				if err := entries.Put(r.key, r.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
