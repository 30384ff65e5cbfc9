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

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// bbolt reads its file through a memory map. A file cut short gives a
// SIGBUS on the first page past its end, and a page pointing anywhere
// gives a SIGSEGV or a bbolt assertion panic; Go cannot recover the first
// two unless the goroutine asked for it. Every read of the file through
// bbolt runs in safely, and Open checks a file before it maps it:
//
//  1. checkHeader reads the two meta pages and checks that the file holds
//     every page the valid one counts;
//  2. checkPages reads the tree from its root and checks what bbolt's
//     Tx.Check does, with plain reads (pagecheck.go).

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
func checkHeader(path string, size int64) (metaPage, error) {
	f, err := os.Open(path)
	if err != nil {
		return metaPage{}, err
	}
	defer f.Close()
	return readHeader(f, size)
}

// readHeader is checkHeader on the open file f.
func readHeader(f io.ReaderAt, size int64) (metaPage, error) {
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
		return metaPage{}, damaged("it is not a bbolt database, or its headers were overwritten (%v)", err0)
	case err0 != nil || err1 == nil && m1.txid > m0.txid:
		m = m1
	}
	ps := int64(m.pageSize)
	switch {
	case ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0:
		return m, damaged("its header gives a page size of %d bytes", ps)
	case size%ps != 0:
		return m, damaged("it was cut short: %d bytes is not a whole number of %d-byte pages", size, ps)
	case size < minPages*ps:
		return m, damaged("it was cut short: %d bytes, less than the %d pages of an empty database", size, minPages)
	case uint64(size/ps) < m.hw:
		return m, damaged("it was cut short: it holds %d pages, its header counts %d", size/ps, m.hw)
	case m.root >= m.hw || m.freelist >= m.hw && m.freelist != noFreelist:
		return m, damaged("its header points past its last page")
	}
	return m, nil
}

// inspect reports whether the file at path, of the given size, is sound:
// nil, a *damagedError saying what is wrong, or another error when it
// cannot tell (the file is in use, or in a newer format).
func inspect(path string, size int64) error {
	if size == 0 {
		return damaged("it is empty")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	m, err := readHeader(f, size)
	if err == nil {
		err = checkPages(f, m)
	}
	f.Close()
	if err != nil {
		return err
	}
	db, err := openDB(path, true)
	if err != nil {
		return err
	}
	defer safely(db.Close)
	return safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			v, err := fileFormat(tx)
			switch {
			case err != nil:
				return damaged("its format version cannot be read: %v", err)
			case v > formatVersion:
				return fmt.Errorf("format %d, %w (this one reads format %d at most)", v, ErrNewerFormat, formatVersion)
			}
			return nil
		})
	})
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
