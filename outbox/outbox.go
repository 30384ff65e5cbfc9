// Package outbox is the bridge's durable queue of messages waiting to be
// delivered, one entry per recipient.
//
// An incoming MQTT message is acknowledged only after Add has returned,
// because Add returns only once its transaction is fsynced: a message the
// broker considers delivered survives a crash or power loss. Entries leave the
// outbox through Done once delivered, failed or expired; Pending lists what is
// left after a restart.
//
// The store is a single bbolt file. Entries are kept as JSON keyed by their
// big-endian Seq, so they read back in order of acceptance, and Seq keeps
// increasing across restarts. Idempotency keys are remembered for
// IdempotencyWindow.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// IdempotencyWindow is how long an accepted ID keeps a repeat from being
// stored again (../shared/SPEC.md section 3: "accepted in the last 24 hours").
const IdempotencyWindow = 24 * time.Hour

// lockTimeout bounds how long Open waits for the file lock, so a second
// process fails quickly instead of hanging.
const lockTimeout = time.Second

// doneBatchDelay is how long Done waits for other calls to share its
// transaction. bbolt's default of 10ms mostly adds latency: while one
// transaction is being synced, later calls gather into the next one anyway.
const doneBatchDelay = time.Millisecond

// ErrInUse is returned by Open when another process holds the outbox file.
var ErrInUse = errors.New("in use by another messenger-bridge")

var (
	entriesBucket = []byte("entries")  // Seq (big-endian) → record JSON
	idsBucket     = []byte("ids")      // idKey → accepted time
	idTimesBucket = []byte("id_times") // accepted time + idKey → empty, for pruning
)

// Entry is one message for one recipient.
type Entry struct {
	// Seq is assigned by Add; it is global and increasing, the order of
	// acceptance.
	Seq uint64
	// Batch is the Seq of the first entry written for the same incoming
	// message, so entries fanned out from one message share it.
	Batch uint64
	// Recipient is the person's name, e.g. "alice".
	Recipient string
	// PSID is the recipient's page-scoped ID.
	PSID string
	// Accepted is when Add stored the entry.
	Accepted time.Time
	// Message is what to send.
	Message message.Message
}

// record is an Entry as stored; Seq is the key.
type record struct {
	Batch     uint64          `json:"batch"`
	Recipient string          `json:"recipient"`
	PSID      string          `json:"psid"`
	Accepted  time.Time       `json:"accepted"`
	Message   message.Message `json:"message"`
}

// Outbox is a durable queue of entries. Its methods are safe for concurrent
// use.
type Outbox struct {
	db   *bolt.DB
	path string
	max  int

	// pending counts stored entries. Add raises it after its commit while
	// holding addMu, and Done lowers it after its commit, so an Add deciding
	// Full may see too many entries but never too few.
	pending atomic.Int64

	addMu     sync.Mutex
	lastPrune time.Time // guarded by addMu
}

// Open opens the outbox file at path, creating it and its directory if needed.
// At most max entries are kept pending; Add refuses items beyond that. Only one
// process may have the file open: another gets an error wrapping ErrInUse.
func Open(path string, max int) (*Outbox, error) {
	if max < 1 {
		return nil, fmt.Errorf("outbox %s: maximum of %d pending entries must be at least 1", path, max)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox %s: create directory: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("outbox %s is %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	db.MaxBatchDelay = doneBatchDelay
	o := &Outbox{db: db, path: path, max: max}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{entriesBucket, idsBucket, idTimesBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		o.pending.Store(int64(tx.Bucket(entriesBucket).Stats().KeyN))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return o, nil
}

// Close releases the file. After Close, the other methods except Len return
// errors.
func (o *Outbox) Close() error {
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("outbox %s: close: %w", o.path, err)
	}
	return nil
}

// Len reports how many entries are pending.
func (o *Outbox) Len() int { return int(o.pending.Load()) }

// CorruptError reports entries that Pending could not decode. They are not
// removed: they stay on disk, count in Len, and leave only through Done.
type CorruptError struct {
	Path string
	Seqs []uint64
	Err  error // one error per unreadable entry, joined
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("outbox %s: %d unreadable entries, seq %v: %v", e.Path, len(e.Seqs), e.Seqs, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Pending returns every stored entry in Seq order. If some cannot be decoded,
// it returns the others together with a *CorruptError naming them.
func (o *Outbox) Pending() ([]Entry, error) {
	var entries []Entry
	var bad []uint64
	var errs []error
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(entriesBucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				// Not written by Add: it has no Seq, so Done cannot name it.
				return fmt.Errorf("malformed key %x", k)
			}
			seq := binary.BigEndian.Uint64(k)
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				bad = append(bad, seq)
				errs = append(errs, fmt.Errorf("seq %d: %w", seq, err))
				return nil
			}
			entries = append(entries, Entry{
				Seq: seq, Batch: r.Batch, Recipient: r.Recipient,
				PSID: r.PSID, Accepted: r.Accepted, Message: r.Message,
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read pending entries: %w", o.path, err)
	}
	if len(bad) > 0 {
		return entries, &CorruptError{Path: o.path, Seqs: bad, Err: errors.Join(errs...)}
	}
	return entries, nil
}

// Done removes the entries with the given Seqs; unknown Seqs are ignored. It
// returns once the removal is on disk. Concurrent calls share transactions,
// so many workers finishing at once cost few fsyncs.
func (o *Outbox) Done(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	var removed int64
	// Batch may run the function more than once; only the run that commits
	// counts.
	err := o.db.Batch(func(tx *bolt.Tx) error {
		removed = 0
		b := tx.Bucket(entriesBucket)
		for _, seq := range seqs {
			k := seqKey(seq)
			if b.Get(k) == nil {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox %s: remove %d entries: %w", o.path, len(seqs), err)
	}
	o.pending.Add(-removed)
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
