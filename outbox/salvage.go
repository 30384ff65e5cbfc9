package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	bolt "go.etcd.io/bbolt"
)

// Damage is what Open found wrong with the outbox file, and what it did.
type Damage struct {
	// Problem says what was wrong with the file.
	Problem error
	// MovedTo is where the damaged file is now, its journal beside it.
	MovedTo string
	// Salvaged counts the pending entries carried into the fresh file;
	// Lost those found whose entry or message could not be decoded.
	Salvaged, Lost int
	// Unread is set when part of the file could not be read at all, so
	// that entries beyond Lost may be gone.
	Unread bool
}

// String says in one line what happened, for the log.
func (d *Damage) String() string {
	lost := fmt.Sprintf("%d lost", d.Lost)
	if d.Unread {
		lost += " (and any on the parts that could not be read)"
	}
	return fmt.Sprintf("the outbox file was damaged (%v); it was moved to %s and a fresh outbox holds the %d waiting messages that could be read, %s",
		d.Problem, d.MovedTo, d.Salvaged, lost)
}

// prepare checks the file at path, if there is one, before Open uses it.
// A damaged file is replaced by a fresh one holding what could be read of
// it, and the returned Damage says so. It returns an error when it cannot
// tell whether the file is sound, or cannot replace it.
func prepare(path string, now time.Time) (*Damage, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil // bbolt creates it
	case err != nil:
		return nil, err
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("not a regular file (%s): remove it, or set DATA_DIR to another folder", info.Mode().Type())
	}
	err = inspect(path, info.Size())
	var de *damagedError
	if !errors.As(err, &de) {
		return nil, err
	}
	d, err := salvage(path, de.err, now)
	if err != nil {
		return nil, fmt.Errorf("damaged (%v), and cannot be replaced: %w", de.err, err)
	}
	return d, nil
}

// salvage copies what can be read of the damaged file at path into a new
// file, moves the damaged one and its journal aside and puts the new one in
// its place. Until the last rename, a crash leaves the damaged file where
// it was, to be salvaged again at the next start.
func salvage(path string, problem error, now time.Time) (*Damage, error) {
	d := &Damage{Problem: problem, MovedTo: asideName(path, now)}
	tmp := path + ".salvage"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fresh, err := openDB(tmp, false)
	if err != nil {
		return nil, err
	}
	err = fresh.Update(initialize)
	if err == nil {
		err = copyReadable(path, fresh, d)
	}
	if err = errors.Join(err, fresh.Close()); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(path, d.MovedTo); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(journalPath(path), journalPath(d.MovedTo)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return d, syncDir(filepath.Dir(path))
}

// asideName returns a name for the damaged file at path that is not taken:
// outbox.db.damaged-20261124T070000Z, with a number added if need be.
func asideName(path string, now time.Time) string {
	base := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// salvaged is an entry read from a damaged file.
type salvaged struct {
	seq uint64
	rec record // Msg is the message's key in the damaged file
	msg []byte // the message as stored
}

// anyRecord decodes an entry of either format: a version 1 entry has a
// message, a version 2 one a message key.
type anyRecord struct {
	record
	Message json.RawMessage `json:"message"`
}

// copyReadable copies into dst every pending entry of the file at src
// whose record and message decode, and the idempotency keys, counting in d
// what it finds unreadable. It reads the file's tree as far as it can, and
// when that stops short, scans its pages for more. It returns an error only
// when dst cannot be written.
func copyReadable(src string, dst *bolt.DB, d *Damage) error {
	done := make(map[uint64]bool)
	// Without it, done entries are sent again. An entry with an outcome
	// was delivered: it counts as done, and its result is lost with the file.
	recs, _ := readJournal(journalPath(src))
	for _, seq := range recs.done {
		done[seq] = true
	}
	for seq := range recs.outcomes {
		done[seq] = true
	}
	if err := copyTree(src, dst, done, d); err != nil || !d.Unread {
		return err
	}
	return scanReadable(src, dst, done, d)
}

// copyTree is copyReadable through the file's tree. It stops at the first
// part that cannot be read, and then sets d.Unread.
func copyTree(src string, dst *bolt.DB, done map[uint64]bool, d *Damage) error {
	db, err := openDB(src, true)
	if errors.Is(err, ErrInUse) {
		return err
	}
	if err != nil {
		d.Unread = true
		return nil
	}
	defer safely(db.Close)
	if err := copyIDs(db, dst); err != nil {
		return err
	}
	var from uint64
	for {
		var chunk []salvaged
		var next uint64
		readErr := safely(func() error {
			return db.View(func(tx *bolt.Tx) (err error) {
				defer release(db, tx)
				next, err = readChunk(tx, from, done, d, &chunk)
				return err
			})
		})
		if err := storeSalvaged(dst, chunk); err != nil {
			return err
		}
		d.Salvaged += len(chunk)
		if readErr != nil {
			d.Unread = true
			return nil
		}
		if next == 0 {
			return nil
		}
		from = next
	}
}

// readChunk appends to chunk the readable pending entries of tx from Seq
// from on, about migrateChunk bytes of them, and returns the Seq to go on
// from, 0 at the end. What it appended stays when it panics part way.
func readChunk(tx *bolt.Tx, from uint64, done map[uint64]bool, d *Damage, chunk *[]salvaged) (uint64, error) {
	entries, msgs := tx.Bucket(entriesBucket), tx.Bucket(messagesBucket)
	if entries == nil {
		return 0, damaged("it has no entries")
	}
	var size int
	var last salvaged // the previous entry, whose message the next may share
	c := entries.Cursor()
	for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			d.Lost++
			continue
		}
		seq := binary.BigEndian.Uint64(k)
		if size >= migrateChunk {
			return seq, nil
		}
		if done[seq] {
			continue
		}
		r, err := decodeAnyRecord(v)
		if err != nil {
			d.Lost++
			continue
		}
		raw := []byte(r.Message)
		if raw == nil {
			if r.Msg == 0 || msgs == nil {
				d.Lost++
				continue
			}
			raw = msgs.Get(seqKey(r.Msg))
		} else {
			r.Msg = r.Batch
		}
		var m message.Message
		if raw == nil || json.Unmarshal(raw, &m) != nil {
			d.Lost++
			continue
		}
		s := salvaged{seq: seq, rec: r.record}
		if last.msg != nil && bytes.Equal(last.msg, raw) {
			s.msg = last.msg
		} else {
			s.msg = bytes.Clone(raw)
			size += len(raw)
		}
		*chunk = append(*chunk, s)
		last = s
	}
	return 0, nil
}

// storeSalvaged writes entries read by readChunk to dst, each message once.
func storeSalvaged(dst *bolt.DB, chunk []salvaged) error {
	if len(chunk) == 0 {
		return nil
	}
	return dst.Update(func(tx *bolt.Tx) error {
		entries, msgs := tx.Bucket(entriesBucket), tx.Bucket(messagesBucket)
		for _, s := range chunk {
			key := s.rec.Msg
			if have := msgs.Get(seqKey(key)); have != nil && !bytes.Equal(have, s.msg) {
				key = s.seq // a message of its own, where a version 1 batch differed
			}
			if msgs.Get(seqKey(key)) == nil {
				if err := msgs.Put(seqKey(key), s.msg); err != nil {
					return err
				}
			}
			r := s.rec
			r.Msg, r.Size = key, int64(len(s.msg))
			if err := entries.Put(seqKey(s.seq), r.appendTo(nil)); err != nil {
				return err
			}
			if s.seq > entries.Sequence() {
				if err := entries.SetSequence(s.seq); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// copyIDs copies the idempotency keys of src that can be read into dst,
// and the Seq reached, so that Seqs keep increasing. What cannot be read
// is skipped: at worst a repeat of a recent message is sent again.
func copyIDs(src, dst *bolt.DB) error {
	type kv struct{ k, v []byte }
	var ids, times []kv
	var seq uint64
	_ = safely(func() error {
		return src.View(func(tx *bolt.Tx) error {
			defer release(src, tx)
			if b := tx.Bucket(entriesBucket); b != nil {
				seq = b.Sequence()
			}
			for _, c := range []struct {
				name []byte
				into *[]kv
			}{{idsBucket, &ids}, {idTimesBucket, &times}} {
				if b := tx.Bucket(c.name); b != nil {
					_ = b.ForEach(func(k, v []byte) error {
						*c.into = append(*c.into, kv{bytes.Clone(k), bytes.Clone(v)})
						return nil
					})
				}
			}
			return nil
		})
	})
	return dst.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(entriesBucket).SetSequence(seq); err != nil {
			return err
		}
		for _, c := range []struct {
			name []byte
			from []kv
		}{{idsBucket, ids}, {idTimesBucket, times}} {
			b := tx.Bucket(c.name)
			for _, e := range c.from {
				if err := b.Put(e.k, append([]byte{}, e.v...)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
