package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// compactAt is how many journalled removals trigger their removal from the
// database: one fsynced transaction per compactAt entries done, and a
// journal of at most a few pages.
const compactAt = 1024

// recordSize is the size of one journal record: a big-endian Seq.
const recordSize = 8

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
	var fresh []uint64
	err := o.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(entriesBucket)
		for _, seq := range seqs {
			if !o.journal.has(seq) && b.Get(seqKey(seq)) != nil {
				fresh = append(fresh, seq)
			}
		}
		return nil
	})
	if err == nil && len(fresh) > 0 {
		err = o.wrote(o.journal.add(fresh))
	}
	if err != nil {
		return fmt.Errorf("outbox %s: mark %d entries done: %w", o.path, len(seqs), err)
	}
	o.pending.Add(-int64(len(fresh)))
	if o.journal.len() >= compactAt {
		if err := o.compact(); err != nil {
			return fmt.Errorf("outbox %s: %w", o.path, err)
		}
	}
	return nil
}

// compact removes the journalled entries from the database in one fsynced
// transaction, then empties the journal; o.doneMu must be held. If it
// fails, the journal still holds every removal and a later compact or Open
// applies them.
func (o *Outbox) compact() error {
	n := o.journal.len()
	if n == 0 {
		return nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		return removeEntries(tx, o.journal.sorted())
	})
	if err == nil {
		err = o.journal.reset()
	}
	if err != nil {
		return fmt.Errorf("remove %d done entries from the database: %w", n, err)
	}
	return nil
}

// snapshot begins a read transaction together with the set of Seqs done
// but still in it. The caller must roll the transaction back.
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
	return tx, maps.Clone(o.journal.seqs), nil
}

// removeEntries deletes the entries with the given Seqs, in ascending order;
// missing ones are skipped.
func removeEntries(tx *bolt.Tx, seqs []uint64) error {
	b := tx.Bucket(entriesBucket)
	for _, seq := range seqs {
		if err := b.Delete(seqKey(seq)); err != nil {
			return err
		}
	}
	return nil
}

func journalPath(dbPath string) string { return dbPath + ".done" }

// journal is a file of the Seqs of entries that are done but still in the
// database, one big-endian record each. Records are written without fsync:
// the page cache outlives a killed process, and a record lost to a power
// cut only means that an entry is delivered again. A stale record is
// harmless, because Seqs are never reused.
type journal struct {
	f    *os.File
	size int64 // bytes of whole records; a failed write is overwritten
	seqs map[uint64]struct{}
}

// readJournal returns the Seqs recorded at path, none if there is no file.
// A record cut short by a crash is ignored: its Done never returned.
func readJournal(path string) ([]uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	seqs := make([]uint64, 0, len(b)/recordSize)
	for ; len(b) >= recordSize; b = b[recordSize:] {
		seqs = append(seqs, binary.BigEndian.Uint64(b))
	}
	slices.Sort(seqs)
	return slices.Compact(seqs), nil
}

// createJournal creates an empty journal at path, replacing any file there.
func createJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	return &journal{f: f, seqs: make(map[uint64]struct{})}, nil
}

func (j *journal) len() int { return len(j.seqs) }

func (j *journal) has(seq uint64) bool {
	_, ok := j.seqs[seq]
	return ok
}

func (j *journal) sorted() []uint64 { return slices.Sorted(maps.Keys(j.seqs)) }

// add records seqs with one write.
func (j *journal) add(seqs []uint64) error {
	buf := make([]byte, 0, recordSize*len(seqs))
	for _, seq := range seqs {
		buf = binary.BigEndian.AppendUint64(buf, seq)
	}
	// WriteAt, not append: after a short write the next record goes where
	// the torn one began, so records stay aligned.
	if _, err := j.f.WriteAt(buf, j.size); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.size += int64(len(buf))
	for _, seq := range seqs {
		j.seqs[seq] = struct{}{}
	}
	return nil
}

// reset forgets every record, once they are applied to the database.
func (j *journal) reset() error {
	clear(j.seqs)
	if err := j.f.Truncate(0); err != nil {
		// The records are stale now; new ones simply follow them.
		return fmt.Errorf("truncate journal: %w", err)
	}
	j.size = 0
	return nil
}

func (j *journal) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

// remove closes and deletes the journal, once it is empty.
func (j *journal) remove() error {
	if err := j.close(); err != nil {
		return err
	}
	if err := os.Remove(j.f.Name()); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}
