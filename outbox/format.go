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
// Every version keeps "ids" (idKey → accepted time) and "id_times"
// (accepted time + idKey → empty).
const formatVersion = 3

var (
	metaBucket     = []byte("meta")     // formatKey → version, big-endian uint64
	entriesBucket  = []byte("entries")  // Seq (big-endian) → record JSON
	messagesBucket = []byte("messages") // message key (big-endian) → message JSON
	idsBucket      = []byte("ids")      // idKey → accepted time
	idTimesBucket  = []byte("id_times") // accepted time + idKey → empty, for pruning
	outcomesBucket = []byte("outcomes") // Seq (big-endian) → result, until done

	formatKey = []byte("format")
)

// record is an entry as stored in version 2; its Seq is the key.
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

func decodeRecord(v []byte) (record, error) {
	var r record
	err := json.Unmarshal(v, &r)
	if err == nil && r.Msg == 0 {
		err = errors.New("no message key")
	}
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
