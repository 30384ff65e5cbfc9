// Package outbox is the bridge's durable queue of messages waiting to be
// delivered, one entry per recipient.
//
// An incoming MQTT message is acknowledged only after Add has returned,
// because Add returns only once its transaction is fsynced: a message the
// broker considers delivered survives a crash or power loss. Entries leave the
// outbox through Done once delivered, failed or expired; Pending lists what is
// left after a restart.
//
// Done is cheap and survives the process being killed, but not a power loss:
// the removals of the last moments before a power cut may be forgotten, and
// those entries are then delivered again. Delivery is at least once.
//
// The store is a bbolt file, with a journal of removals beside it (the same
// name with ".done" appended). Entries are kept as JSON keyed by their
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

	// pending counts stored entries not yet done. Add raises it after its
	// commit while holding addMu, and Done lowers it once the removal is
	// journalled, so an Add deciding Full may see too many entries but
	// never too few.
	pending atomic.Int64

	addMu     sync.Mutex
	lastPrune time.Time // guarded by addMu

	doneMu  sync.Mutex
	journal *journal // guarded by doneMu

	// writeErr is the error of the last write that failed, until a write
	// succeeds again; see Writable.
	writeErr atomic.Pointer[error]
}

// Writable reports why the outbox cannot store messages right now: the
// error of the last write, until a later write succeeds, or that the outbox
// is closed. It never writes, so it is cheap enough for a readiness probe.
func (o *Outbox) Writable() error {
	o.doneMu.Lock()
	closed := o.journal == nil
	o.doneMu.Unlock()
	if closed {
		return fmt.Errorf("outbox %s is closed", o.path)
	}
	if err := o.writeErr.Load(); err != nil {
		return *err
	}
	return nil
}

// wrote records the outcome of a write for Writable and returns err.
func (o *Outbox) wrote(err error) error {
	if err != nil {
		o.writeErr.Store(&err)
	} else {
		o.writeErr.Store(nil)
	}
	return err
}

// Open opens the outbox file at path, creating it and its directory if needed.
// At most max entries are kept pending; Add refuses items beyond that. Only one
// process may have the file open: another gets an error wrapping ErrInUse.
// Entries done before a crash stay done.
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
	o := &Outbox{db: db, path: path, max: max}
	if err := o.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return o, nil
}

// recover prepares a newly opened file: it creates the buckets, applies the
// removals journalled by a process that ended without Close, counts what is
// pending and starts an empty journal. The old journal is replaced only once
// its removals are on disk.
func (o *Outbox) recover() error {
	done, err := readJournal(journalPath(o.path))
	if err != nil {
		return err
	}
	err = o.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{entriesBucket, idsBucket, idTimesBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		if err := removeEntries(tx, done); err != nil {
			return fmt.Errorf("apply %d journalled removals: %w", len(done), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Counted after the commit: Stats reads committed pages only.
	err = o.db.View(func(tx *bolt.Tx) error {
		o.pending.Store(int64(tx.Bucket(entriesBucket).Stats().KeyN))
		return nil
	})
	if err != nil {
		return err
	}
	o.journal, err = createJournal(journalPath(o.path))
	return err
}

// Close applies the journalled removals and releases the files. After
// Close, the other methods except Len return errors.
func (o *Outbox) Close() error {
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.journal == nil {
		return nil
	}
	// A journal that could not be applied is kept for the next Open.
	err := o.compact()
	if err == nil {
		err = o.journal.remove()
	} else {
		err = errors.Join(err, o.journal.close())
	}
	o.journal = nil
	if err := errors.Join(err, o.db.Close()); err != nil {
		return fmt.Errorf("outbox %s: close: %w", o.path, err)
	}
	return nil
}

// Len reports how many entries are pending: stored and not yet done.
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

// Pending returns every entry not yet done, in Seq order. If some cannot be
// decoded, it returns the others together with a *CorruptError naming them.
func (o *Outbox) Pending() ([]Entry, error) {
	tx, done, err := o.snapshot()
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read pending entries: %w", o.path, err)
	}
	defer tx.Rollback()
	var entries []Entry
	var bad []uint64
	var errs []error
	err = tx.Bucket(entriesBucket).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			// Not written by Add: it has no Seq, so Done cannot name it.
			return fmt.Errorf("malformed key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		if _, ok := done[seq]; ok {
			return nil
		}
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
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read pending entries: %w", o.path, err)
	}
	if len(bad) > 0 {
		return entries, &CorruptError{Path: o.path, Seqs: bad, Err: errors.Join(errs...)}
	}
	return entries, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
