package receive

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the received side's durable state, a bbolt file in DATA_DIR:
// events waiting for the broker, the MIDs already taken in (so each is
// published once), the pollers' cursors, the quick replies last sent to
// each person (so a tapped title read by polling maps back to its
// payload), and when each person last wrote (so their window is known
// after a restart, before they write again). It is safe for concurrent
// use.
//
// Format version 2 (the "meta" bucket's "format" key); an older file is
// migrated step by step when opened, as package outbox does.
type Store struct {
	db   *bolt.DB
	wake chan struct{} // holds a token while events may be pending
	max  int           // MIDs remembered at most

	mu sync.Mutex // serialises Add's check-then-write
}

// formatVersion is the layout this code writes.
const formatVersion = 2

// migrations[v] moves a file from format v to v+1, inside OpenStore's
// transaction, after the buckets of the current format exist.
var migrations = map[uint64]func(tx *bolt.Tx) error{
	// Version 2 only adds the "wrote" bucket, empty until people write.
	1: func(*bolt.Tx) error { return nil },
}

// DefaultSeenMax is how many MIDs the Store remembers: far more than any
// poll rereads (Graph details the 20 newest messages of a conversation) or
// Meta redelivers (an hour of webhook retries).
const DefaultSeenMax = 20000

var (
	metaBucket     = []byte("meta")     // "format" → version
	pendingBucket  = []byte("pending")  // seq (big-endian) → Event JSON
	seenBucket     = []byte("seen")     // MID → seq (big-endian)
	seenSeqBucket  = []byte("seen_seq") // seq (big-endian) → MID, for pruning the oldest
	cursorsBucket  = []byte("cursors")  // key → value
	repliesBucket  = []byte("replies")  // person → QuickReplies JSON
	wroteBucket    = []byte("wrote")    // person → when they last wrote, RFC 3339
	formatKey      = []byte("format")
	sinceKey       = []byte("since")      // in meta: when the file was made, Unix nanoseconds
	seenCountKey   = []byte("seen_count") // entries in seen_seq
	allBuckets     = [][]byte{metaBucket, pendingBucket, seenBucket, seenSeqBucket, cursorsBucket, repliesBucket, wroteBucket}
	errWrongFormat = errors.New("written by a newer messenger-bridge")
)

// OpenStore opens or creates the store at path. It fails with a wrapped
// bbolt error when another process holds the file, and when the file was
// written by a newer format.
func OpenStore(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("receive: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(metaBucket)
		switch v := meta.Get(formatKey); {
		case v == nil:
			if err := meta.Put(sinceKey, itob(uint64(time.Now().UnixNano()))); err != nil {
				return err
			}
			return meta.Put(formatKey, itob(formatVersion))
		case btoi(v) > formatVersion:
			return fmt.Errorf("format %d: %w", btoi(v), errWrongFormat)
		}
		version := btoi(meta.Get(formatKey))
		for ; version < formatVersion; version++ {
			migrate, ok := migrations[version]
			if !ok {
				return fmt.Errorf("format %d: no such format; move the file away to start empty", version)
			}
			if err := migrate(tx); err != nil {
				return fmt.Errorf("upgrade from format %d to %d: %w", version, version+1, err)
			}
		}
		return meta.Put(formatKey, itob(formatVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("receive: %s: %w", path, err)
	}
	s := &Store{db: db, wake: make(chan struct{}, 1), max: DefaultSeenMax}
	s.signal()
	return s, nil
}

// Since returns when the store was made: when the bridge began to
// receive. It is the zero time for a store made before messenger-bridge
// recorded it, which has taken in what came before already.
func (s *Store) Since() (time.Time, error) {
	var since time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(sinceKey); len(v) == 8 {
			since = time.Unix(0, int64(btoi(v)))
		}
		return nil
	})
	return since, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Pending is an event stored and not yet acknowledged by the broker.
type Pending struct {
	Seq uint64
	Event
}

// Pending returns the events waiting for the broker, oldest first. An
// event that does not decode is dropped with the returned error, not
// retried forever.
func (s *Store) Pending() ([]Pending, error) {
	var out []Pending
	var bad []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(pendingBucket).ForEach(func(k, v []byte) error {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				bad = append(bad, btoi(k))
				return nil
			}
			out = append(out, Pending{Seq: btoi(k), Event: e})
			return nil
		})
	})
	if err == nil && len(bad) > 0 {
		err = errors.Join(fmt.Errorf("receive: %d stored events do not decode and are dropped", len(bad)), s.Done(bad...))
	}
	return out, err
}

// Done forgets pending events once the broker has them. Their MIDs stay
// remembered.
func (s *Store) Done(seqs ...uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(pendingBucket)
		for _, seq := range seqs {
			if err := b.Delete(itob(seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Published forgets the pending event seq, as Done does, and records in
// the same transaction that person wrote at at, unless a later time is
// recorded already: the broker has the event, and the person's window is
// open from at.
func (s *Store) Published(seq uint64, person string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(pendingBucket).Delete(itob(seq)); err != nil {
			return err
		}
		wrote := tx.Bucket(wroteBucket)
		if last, err := time.Parse(time.RFC3339Nano, string(wrote.Get([]byte(person)))); err == nil && !at.After(last) {
			return nil
		}
		return wrote.Put([]byte(person), []byte(at.UTC().Format(time.RFC3339Nano)))
	})
}

// LastWrote returns when each person last wrote, as Published recorded
// it.
func (s *Store) LastWrote() (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(wroteBucket).ForEach(func(k, v []byte) error {
			if at, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
				out[string(k)] = at
			}
			return nil
		})
	})
	return out, err
}

// Wake returns a channel that holds a value whenever events may be
// pending: after OpenStore and after each Add that stored one.
func (s *Store) Wake() <-chan struct{} { return s.wake }

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Cursor returns the value stored under key, "" when none is.
func (s *Store) Cursor(key string) (value string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		value = string(tx.Bucket(cursorsBucket).Get([]byte(key)))
		return nil
	})
	return value, err
}

// SetCursor stores value under key.
func (s *Store) SetCursor(key, value string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(cursorsBucket).Put([]byte(key), []byte(value))
	})
}

// QuickReplies is what the bridge last offered one person to tap.
type QuickReplies struct {
	// ID is the id of the message that carried them (the payload's "id"),
	// "" when it had none.
	ID     string       `json:"id,omitempty"`
	SentAt time.Time    `json:"sent_at"`
	Offers []QuickReply `json:"offers"`
}

// QuickReply is one offered answer.
type QuickReply struct {
	Title   string `json:"title"`
	Payload string `json:"payload"`
	// Action is set when the answer came as a companion-app action.
	Action bool `json:"action,omitempty"`
}

// SetQuickReplies records what was last offered to person.
func (s *Store) SetQuickReplies(person string, q QuickReplies) error {
	data, err := json.Marshal(q)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(repliesBucket).Put([]byte(person), data)
	})
}

// LastQuickReplies returns what was last offered to person.
func (s *Store) LastQuickReplies(person string) (q QuickReplies, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(repliesBucket).Get([]byte(person))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &q)
	})
	return q, ok, err
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
