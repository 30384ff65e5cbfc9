package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// bbolt reads its file through a memory map. A file cut short gives a
// SIGBUS on the first page past its end, and a page pointing anywhere
// gives a SIGSEGV or a bbolt assertion panic; Go cannot recover the first
// two unless the goroutine asked for it. Every read of the file runs in
// safely, and Open checks a file in three steps before using it:
//
//  1. checkHeader reads the two meta pages with plain reads and checks
//     that the file holds every page the valid one counts;
//  2. walk reads every page bbolt's own check will read, in safely;
//  3. bbolt's Tx.Check, which runs in a goroutine of its own, then only
//     reads pages that are known to be readable.

// damagedError says the file is damaged, and how.
type damagedError struct{ err error }

func (e *damagedError) Error() string { return e.err.Error() }
func (e *damagedError) Unwrap() error { return e.err }

func damaged(format string, args ...any) error {
	return &damagedError{fmt.Errorf(format, args...)}
}

// safely runs f, turning a bbolt panic, or a fault on the memory-mapped
// file, into a *damagedError. bbolt's View and Update roll their
// transaction back when f panics.
func safely(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged("reading it failed: %v", r)
		}
	}()
	return f()
}

// bbolt's meta page (go.etcd.io/bbolt/internal/common): a 16-byte page
// header, then the meta fields in the machine's byte order, the checksum
// (FNV-1a 64) covering those before it.
const (
	pageHeaderSize  = 16
	metaMagic       = 0xED0CDAED
	metaVersion     = 2
	metaSize        = 64
	checksumOffset  = 56
	noFreelist      = ^uint64(0)
	minPages        = 4 // two meta pages, a freelist and a root leaf
	minPageSize     = 512
	maxPageSize     = 1 << 24 // the largest bbolt looks for
	firstMetaOffset = 0
)

type metaPage struct {
	pageSize           uint32
	root, freelist, hw uint64 // page ids; hw is the high-water mark
	txid               uint64
}

// readMeta decodes the meta page at off, or reports why it is not one.
func readMeta(f io.ReaderAt, off int64) (metaPage, error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return metaPage{}, err
	}
	m := buf[pageHeaderSize:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:checksumOffset])
	switch {
	case ne.Uint32(m[0:]) != metaMagic:
		return metaPage{}, errors.New("no bbolt header")
	case ne.Uint32(m[4:]) != metaVersion:
		return metaPage{}, fmt.Errorf("bbolt format %d", ne.Uint32(m[4:]))
	case ne.Uint64(m[checksumOffset:]) != h.Sum64():
		return metaPage{}, errors.New("header checksum mismatch")
	}
	return metaPage{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		hw: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, nil
}

// checkHeader checks, without mapping the file, that it starts with a
// valid bbolt meta page and holds every page that meta page counts, as
// bbolt chooses it: the valid one of the two with the higher transaction.
func checkHeader(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m0, err0 := readMeta(f, firstMetaOffset)
	// The second meta page is one page in; where that is, only a valid
	// first one says. Otherwise try every page size, as bbolt does.
	var offsets []int64
	if err0 == nil {
		offsets = []int64{int64(m0.pageSize)}
	} else {
		for ps := int64(1024); ps <= maxPageSize; ps <<= 1 {
			offsets = append(offsets, ps)
		}
	}
	var m1 metaPage
	err1 := errors.New("no second header")
	for _, off := range offsets {
		if off+pageHeaderSize+metaSize > size {
			break
		}
		if m, err := readMeta(f, off); err == nil && int64(m.pageSize) == off {
			m1, err1 = m, nil
			break
		}
	}
	m := m0
	switch {
	case err0 != nil && err1 != nil:
		return damaged("it is not a bbolt database, or its headers were overwritten (%v)", err0)
	case err0 != nil || err1 == nil && m1.txid > m0.txid:
		m = m1
	}
	ps := int64(m.pageSize)
	switch {
	case ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0:
		return damaged("its header gives a page size of %d bytes", ps)
	case size%ps != 0:
		return damaged("it was cut short: %d bytes is not a whole number of %d-byte pages", size, ps)
	case size < minPages*ps:
		return damaged("it was cut short: %d bytes, less than the %d pages of an empty database", size, minPages)
	case uint64(size/ps) < m.hw:
		return damaged("it was cut short: it holds %d pages, its header counts %d", size/ps, m.hw)
	case m.root >= m.hw || m.freelist >= m.hw && m.freelist != noFreelist:
		return damaged("its header points past its last page")
	}
	return nil
}

// inspect reports whether the file at path, of the given size, is sound:
// nil, a *damagedError saying what is wrong, or another error when it
// cannot tell (the file is in use, or in a newer format).
func inspect(path string, size int64) error {
	if size == 0 {
		return damaged("it is empty")
	}
	if err := checkHeader(path, size); err != nil {
		return err
	}
	db, err := openDB(path, true)
	if err != nil {
		return err
	}
	defer safely(db.Close)
	var problems []string
	err = safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if v, err := fileFormat(tx); err != nil {
				return damaged("its format version cannot be read: %v", err)
			} else if v > formatVersion {
				return fmt.Errorf("format %d, %w (this one reads format %d at most)", v, ErrNewerFormat, formatVersion)
			}
			if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
				return err
			}
			stop := sweep(db)
			defer stop()
			for err := range tx.Check() {
				// The check goes on after a problem; its report is read
				// to the end, so that its goroutine ends.
				if len(problems) < 3 {
					problems = append(problems, err.Error())
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return damaged("bbolt's consistency check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// walk reads every key of b and of the buckets in it, and so every page
// of their trees, and fails for a key with neither value nor bucket.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		touch(k)
		if v != nil {
			return nil
		}
		child := b.Bucket(k)
		if child == nil {
			return damaged("key %x has neither a value nor a bucket", k)
		}
		return walk(child)
	})
}

// sink keeps touch's reads from being optimised away.
var sink byte

// touch reads one byte in every 512 of b, and its last, so that a page of
// b that cannot be read faults here.
func touch(b []byte) {
	for i := 0; i < len(b); i += minPageSize {
		sink ^= b[i]
	}
	if len(b) > 0 {
		sink ^= b[len(b)-1]
	}
}

// sweepEvery is how often sweep drops the pages a long read brought in.
const sweepEvery = 2 * time.Millisecond

// sweep drops the pages of db's file from this process's memory every
// sweepEvery until stop is called, so that a read of the whole file, such
// as bbolt's check, does not hold it all in memory.
func sweep(db *bolt.DB) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = db.View(func(tx *bolt.Tx) error { release(db, tx); return nil })
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// openDB opens the bbolt file at path, read-only or for writing, and loads
// its freelist, all in safely. A file another process holds gives an
// error wrapping ErrInUse.
func openDB(path string, readOnly bool) (*bolt.DB, error) {
	var db *bolt.DB
	err := safely(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly, PreLoadFreelist: true})
		return err
	})
	var de *damagedError
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, ErrInUse
	case err == nil, errors.As(err, &de):
		return db, err
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), strings.Contains(err.Error(), "file size too small"):
		return nil, &damagedError{err}
	}
	return nil, err // the file cannot be opened: permissions, a read-only disk
}
