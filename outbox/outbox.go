// Package outbox is the bridge's durable queue of messages waiting to be
// delivered: each message is stored once, with one small entry per
// recipient referring to it.
//
// An incoming MQTT message is acknowledged only after Add has returned,
// because Add returns only once its transaction is fsynced: a message the
// broker considers delivered survives a crash or power loss. Once an entry is
// delivered, failed or expired, Record keeps its outcome (the result to
// publish), and Done removes it once the broker has that result; Pending
// lists what is left to deliver after a restart, as Refs, and Outcomes the
// results still to publish. The message itself is read by Load when its
// turn comes, so what waits is held on disk, not in memory.
//
// Record and Done are cheap and survive the process being killed, but not
// a power loss: the records of the last moments before a power cut may be
// forgotten, and those entries are then delivered, or their results
// published, again. Delivery is at least once.
//
// The store is a bbolt file, with a journal of outcomes and removals beside
// it (the same name with ".done" appended); format.go describes the file's
// layout and how an older one is upgraded, journal.go the journal's. Entries are keyed by their big-endian Seq, so they
// read back in order of acceptance, and Seq keeps increasing across
// restarts. Idempotency keys are remembered for IdempotencyWindow.
//
// Open checks the file first. A damaged one (cut short, overwritten, or
// failing bbolt's consistency check) is moved aside, what can still be read
// of it is carried into a fresh file, and Damage says so.
package outbox

import (
	"bytes"
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
)

// IdempotencyWindow is how long an accepted ID keeps a repeat from being
// stored again (../shared/SPEC.md section 3: "accepted in the last 24 hours").
const IdempotencyWindow = 24 * time.Hour

// lockTimeout bounds how long Open waits for the file lock, so a second
// process fails quickly instead of hanging.
const lockTimeout = time.Second

// DefaultMaxBytes is the bound on bytes waiting when Open is given no
// MaxBytes: OUTBOX_MAX_BYTES's default (../shared/SPEC.md section 1).
const DefaultMaxBytes = 256 << 20

// ErrInUse is returned by Open when another process holds the outbox file.
var ErrInUse = errors.New("in use by another messenger-bridge")

// Entry is one message for one recipient, as Load returns it.
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

// Ref names a pending entry without its message: a few dozen bytes, what a
// queue of waiting entries holds. Load reads the message.
type Ref struct {
	Seq       uint64
	Batch     uint64
	Recipient string
	PSID      string
	Accepted  time.Time
	// Size is the length of the entry's message as stored, shared with the
	// other entries of its batch.
	Size int64
}

// Outbox is a durable queue of entries. Its methods are safe for concurrent
// use.
type Outbox struct {
	db       *bolt.DB
	path     string
	max      int
	maxBytes int64
	damage   *Damage // nil unless Open found the file damaged

	// pending counts stored entries not yet done, and bytes what they take:
	// their records, and once each message they refer to. Add raises them
	// after its commit while holding addMu, and Done lowers them once the
	// removal is journalled, so an Add deciding Full may see too much
	// waiting but never too little.
	pending atomic.Int64
	bytes   atomic.Int64

	addMu     sync.Mutex
	lastPrune time.Time // guarded by addMu

	doneMu    sync.Mutex
	journal   *journal // guarded by doneMu
	doneBytes int64    // guarded by doneMu: bytes done and not yet compacted
	// recorded holds the outcome of each entry recorded and not yet done,
	// in the journal or the database; guarded by doneMu. An outcome whose
	// record could not be written is held here too, so that this process
	// never delivers its entry again.
	recorded map[uint64][]byte

	// untouched counts the bytes read and written since the map was last
	// released; see touched.
	untouched atomic.Int64

	// writeErr is the error of the last write that failed, until a write
	// succeeds again; see Writable.
	writeErr atomic.Pointer[error]
}

// Option tunes Open.
type Option func(*Outbox)

// MaxBytes bounds the bytes waiting: Add refuses an item that would take
// the outbox beyond n. A message counts once, whatever the number of its
// recipients. Without it the bound is DefaultMaxBytes.
func MaxBytes(n int64) Option { return func(o *Outbox) { o.maxBytes = n } }

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
// Entries done before a crash stay done. A file in an older format is
// upgraded; one in a newer format is refused with ErrNewerFormat.
//
// A damaged file does not stop Open: it is moved aside, the entries that
// can still be read are carried into a fresh file, and Damage reports it.
// Open returns an error only when the outbox cannot be used at all.
func Open(path string, max int, opts ...Option) (*Outbox, error) {
	o := &Outbox{path: path, max: max, maxBytes: DefaultMaxBytes}
	for _, opt := range opts {
		opt(o)
	}
	if max < 1 {
		return nil, fmt.Errorf("outbox %s: maximum of %d pending entries must be at least 1", path, max)
	}
	if o.maxBytes < 1 {
		return nil, fmt.Errorf("outbox %s: maximum of %d bytes waiting must be at least 1", path, o.maxBytes)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox %s: create directory: %w", path, err)
	}
	fail := func(err error) (*Outbox, error) {
		if errors.Is(err, ErrInUse) {
			return nil, fmt.Errorf("outbox %s is %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	var err error
	if o.damage, err = prepare(path, time.Now()); err != nil {
		return fail(err)
	}
	if o.db, err = openDB(path, false); err != nil {
		return fail(err)
	}
	if err := safely(func() error { return upgrade(o.db) }); err != nil {
		o.db.Close()
		return fail(err)
	}
	if err := o.recover(); err != nil {
		o.db.Close()
		return fail(err)
	}
	return o, nil
}

// releaseAfter is how many bytes of the file reads and writes may bring
// into this process's memory before they are released (see release):
// releasing drops the whole map, which costs a system call and the page
// faults of reading it again, too much to pay for every small message.
const releaseAfter = 256 << 10

// treePage is what a read or write counts for the pages of the tree on
// its way to the data: bbolt's pages are the system's page size, 4 KiB
// on most.
const treePage = 16 << 10

// touched counts n bytes of the file read or written, and releases the map
// once releaseAfter of them have been. It is safe for concurrent use.
func (o *Outbox) touched(n int64) {
	if o.untouched.Add(n) >= releaseAfter {
		o.untouched.Store(0)
		o.unmap()
	}
}

// unmap drops the file's pages from this process's memory after a write
// (see release): a write reads the pages on its way through the tree.
func (o *Outbox) unmap() {
	_ = o.db.View(func(tx *bolt.Tx) error {
		release(o.db, tx)
		return nil
	})
}

// Damage reports what Open found wrong with the file and did about it;
// nil when the file was sound.
func (o *Outbox) Damage() *Damage { return o.damage }

// recover prepares a newly opened file: it applies the removals journalled
// by a process that ended without Close, counts what is pending and starts
// an empty journal. The old journal is replaced only once its removals are
// on disk.
func (o *Outbox) recover() error {
	recs, err := readJournal(journalPath(o.path))
	if err != nil {
		return err
	}
	o.recorded = make(map[uint64][]byte)
	err = safely(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			if err := keepOutcomes(tx, recs.outcomes); err != nil {
				return err
			}
			if err := removeEntries(tx, recs.done); err != nil {
				return err
			}
			return tx.Bucket(outcomesBucket).ForEach(func(k, v []byte) error {
				if len(k) == 8 {
					o.recorded[binary.BigEndian.Uint64(k)] = bytes.Clone(v)
				}
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("apply the journal (%d removals, %d outcomes): %w", len(recs.done), len(recs.outcomes), err)
	}
	// Counted after the commit, from the small records only.
	err = safely(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			defer release(o.db, tx)
			var n, size int64
			var lastMsg uint64
			err := tx.Bucket(entriesBucket).ForEach(func(_, v []byte) error {
				n++
				size += int64(len(v))
				// Entries referring to one message are next to each other.
				if r, err := decodeRecord(v); err == nil && r.Msg != lastMsg {
					size += r.Size
					lastMsg = r.Msg
				}
				return nil
			})
			o.pending.Store(n)
			o.bytes.Store(size)
			return err
		})
	})
	if err != nil {
		return err
	}
	o.journal, err = createJournal(journalPath(o.path))
	return err
}

// Close applies the journalled removals and releases the files. After
// Close, the other methods except Len, Bytes and Damage return errors.
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

// Bytes reports how many bytes the pending entries take in the file, each
// message counted once.
func (o *Outbox) Bytes() int64 { return o.bytes.Load() }

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

// Pending returns a Ref to every entry not yet done, in Seq order, without
// reading any message. If some cannot be decoded, it returns the others
// together with a *CorruptError naming them.
func (o *Outbox) Pending() ([]Ref, error) {
	tx, done, err := o.snapshot()
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read pending entries: %w", o.path, err)
	}
	defer tx.Rollback()
	defer release(o.db, tx)
	var refs []Ref
	var bad []uint64
	var errs []error
	err = safely(func() error {
		return tx.Bucket(entriesBucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				// Not written by Add: it has no Seq, so Done cannot name it.
				return fmt.Errorf("malformed key %x", k)
			}
			seq := binary.BigEndian.Uint64(k)
			if _, ok := done[seq]; ok {
				return nil // done, or its outcome recorded: see Outcomes
			}
			r, err := decodeRecord(v)
			if err != nil {
				bad = append(bad, seq)
				errs = append(errs, fmt.Errorf("seq %d: %w", seq, err))
				return nil
			}
			refs = append(refs, r.ref(seq))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: read pending entries: %w", o.path, err)
	}
	if len(bad) > 0 {
		return refs, &CorruptError{Path: o.path, Seqs: bad, Err: errors.Join(errs...)}
	}
	return refs, nil
}

// Load reads the entry ref names, message included. The bytes read from
// the file are released once decoded, so that a message in memory is one
// being delivered. It fails when the entry is not in the outbox, or its
// message cannot be read or decoded; the entry stays until Done.
func (o *Outbox) Load(ref Ref) (Entry, error) {
	var e Entry
	var size int64
	err := safely(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(entriesBucket).Get(seqKey(ref.Seq))
			if v == nil {
				return errors.New("no such entry")
			}
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("entry: %w", err)
			}
			raw := tx.Bucket(messagesBucket).Get(seqKey(r.Msg))
			if raw == nil {
				return fmt.Errorf("its message %d is missing", r.Msg)
			}
			size = int64(len(raw))
			e = Entry{Seq: ref.Seq, Batch: r.Batch, Recipient: r.Recipient, PSID: r.PSID, Accepted: r.Accepted}
			if err := json.Unmarshal(raw, &e.Message); err != nil {
				return fmt.Errorf("message: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox %s: read entry %d: %w", o.path, ref.Seq, err)
	}
	o.touched(size + treePage) // the message, and the pages of the tree on the way
	return e, nil
}
