package outbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/messenger-bridge/messenger-bridge/message"
	bolt "go.etcd.io/bbolt"
)

// When the tree of a damaged file cannot be read, as when the file was cut
// short (bbolt writes a new root at each commit, so the root is usually
// near the end), its entries may still lie on the leaf pages that are
// left. scanReadable looks for them page by page, with plain reads: no
// memory map, so no fault.
//
// A page freed by a later commit keeps its old content until it is used
// again, so a scan may find an entry that had been delivered and removed
// shortly before the damage; it is delivered again, or reported expired if
// it is older than MESSAGE_TTL. Delivery stays at least once.

// bbolt's page layout (go.etcd.io/bbolt/internal/common/page.go): a
// header of id (8 bytes), flags (2), count (2) and overflow (4), then on a
// leaf page count elements of flags, pos, ksize and vsize (4 bytes each),
// pos counting from the element itself.
const (
	leafPageFlag   = 0x02
	bucketLeafFlag = 0x01
	elementSize    = 16
	inlineHeader   = 16 // an inline bucket's root (0) and sequence, before its page
	maxScanKey     = 64 // longer keys are none of ours
)

// recordPrefix starts every JSON entry record, of record and v1Record,
// whose first field is the batch; a binary one starts with binaryRecord. A
// message, JSON, never starts so.
var recordPrefix = []byte(`{"batch":`)

// isRecord reports whether a value that starts with head, up to
// len(recordPrefix) bytes of it, is an entry record rather than a message.
func isRecord(head []byte) bool {
	return len(head) > 0 && head[0] == binaryRecord || bytes.Equal(head, recordPrefix)
}

// span is where a value lies in the file.
type span struct{ off, n int64 }

// leafVisitor is told of each key found on a leaf page and where its value
// is. key is only valid during the call.
type leafVisitor func(key []byte, value span)

// scanPages calls visit for every key and value on the leaf pages of the
// file f of the given size, inline buckets included, assuming pages of ps
// bytes. It skips whatever does not parse.
func scanPages(f io.ReaderAt, size, ps int64, visit leafVisitor) {
	buf := make([]byte, ps)
	for pg := int64(2); (pg+1)*ps <= size; pg++ { // pages 0 and 1 are the meta pages
		off := pg * ps
		if _, err := f.ReadAt(buf, off); err != nil {
			return
		}
		ne := binary.NativeEndian
		if ne.Uint64(buf) != uint64(pg) || ne.Uint16(buf[8:]) != leafPageFlag {
			continue
		}
		overflow := int64(ne.Uint32(buf[12:]))
		scanLeaf(f, buf, off, min((overflow+1)*ps, size-off), visit)
		if overflow < size/ps {
			pg += overflow
		}
	}
}

// scanLeaf visits the elements of the leaf page whose first bytes are
// page, at file offset off and extent bytes long.
func scanLeaf(f io.ReaderAt, page []byte, off, extent int64, visit leafVisitor) {
	ne := binary.NativeEndian
	count := int(ne.Uint16(page[10:]))
	for i := range count {
		h := pageHeaderSize + i*elementSize
		if h+elementSize > len(page) {
			return
		}
		flags := ne.Uint32(page[h:])
		kAt := int64(h) + int64(ne.Uint32(page[h+4:]))
		ksize, vsize := int64(ne.Uint32(page[h+8:])), int64(ne.Uint32(page[h+12:]))
		vAt := kAt + ksize
		if ksize == 0 || ksize > maxScanKey || vAt+vsize > extent {
			continue
		}
		key := readSpan(f, page, off, kAt, ksize)
		if key == nil {
			continue
		}
		if flags&bucketLeafFlag == 0 {
			visit(key, span{off + vAt, vsize})
			continue
		}
		// A bucket small enough to sit in its parent's page.
		if vsize <= inlineHeader+pageHeaderSize || vsize > extent {
			continue
		}
		v := readSpan(f, page, off, vAt, vsize)
		if v != nil && ne.Uint64(v) == 0 && ne.Uint16(v[inlineHeader+8:]) == leafPageFlag {
			inline := bytes.Clone(v[inlineHeader:])
			scanLeaf(f, inline, off+vAt+inlineHeader, int64(len(inline)), visit)
		}
	}
}

// readSpan returns the n bytes at pos of the page at file offset off, from
// page when they are in it, else read from f; nil if they cannot be read.
func readSpan(f io.ReaderAt, page []byte, off, pos, n int64) []byte {
	if pos+n <= int64(len(page)) {
		return page[pos : pos+n]
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off+pos); err != nil {
		return nil
	}
	return b
}

// scanReadable adds to dst the pending entries found on the leaf pages of
// the file at path, with their messages, that dst does not hold yet, and
// the idempotency keys. done holds the Seqs journalled done. It counts in
// d what it finds; it returns an error only when dst cannot be written.
func scanReadable(path string, dst *bolt.DB, done map[uint64]bool, d *Damage) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	ps := int64(os.Getpagesize())
	if m, err := readMeta(f, firstMetaOffset); err == nil && m.pageSize >= minPageSize && m.pageSize <= maxPageSize {
		ps = int64(m.pageSize)
	}
	// Entries and messages share keys: a message is keyed by its batch,
	// the Seq of its first entry. Older copies of a page give more spans.
	entries := make(map[uint64][]span)
	messages := make(map[uint64][]span)
	var ids, times [][2][]byte
	scanPages(f, info.Size(), ps, func(key []byte, v span) {
		switch {
		case len(key) == 8:
			seq := binary.BigEndian.Uint64(key)
			head := make([]byte, min(int64(len(recordPrefix)), v.n))
			if _, err := f.ReadAt(head, v.off); err != nil {
				return
			}
			if isRecord(head) {
				entries[seq] = append(entries[seq], v)
			} else {
				messages[seq] = append(messages[seq], v)
			}
		case len(key) == sha256.Size && v.n == 8:
			if b := readAt(f, v); b != nil {
				ids = append(ids, [2][]byte{bytes.Clone(key), b})
			}
		case len(key) == 8+sha256.Size && v.n == 0:
			times = append(times, [2][]byte{bytes.Clone(key), {}})
		}
	})
	var have map[uint64]bool
	if err := dst.View(func(tx *bolt.Tx) error {
		have = make(map[uint64]bool)
		return tx.Bucket(entriesBucket).ForEach(func(k, _ []byte) error {
			have[binary.BigEndian.Uint64(k)] = true
			return nil
		})
	}); err != nil {
		return err
	}
	var chunk []salvaged
	var size int
	for _, seq := range slices.Sorted(maps.Keys(entries)) {
		if done[seq] || have[seq] {
			continue
		}
		s, ok := scannedEntry(f, seq, entries[seq], messages)
		if !ok {
			d.Lost++
			continue
		}
		chunk = append(chunk, s)
		if size += len(s.msg); size >= migrateChunk {
			if err := storeSalvaged(dst, chunk); err != nil {
				return err
			}
			d.Salvaged += len(chunk)
			chunk, size = nil, 0
		}
	}
	if err := storeSalvaged(dst, chunk); err != nil {
		return err
	}
	d.Salvaged += len(chunk)
	return dst.Update(func(tx *bolt.Tx) error {
		for _, c := range []struct {
			bucket []byte
			kvs    [][2][]byte
		}{{idsBucket, ids}, {idTimesBucket, times}} {
			b := tx.Bucket(c.bucket)
			for _, kv := range c.kvs {
				if b.Get(kv[0]) == nil {
					if err := b.Put(kv[0], kv[1]); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// scannedEntry returns the first of the copies of entry seq that decodes
// with a message that decodes.
func scannedEntry(f io.ReaderAt, seq uint64, copies []span, messages map[uint64][]span) (salvaged, bool) {
	for _, c := range copies {
		r, err := decodeAnyRecord(readAt(f, c)) // a span readAt cannot read is nil, which fails to decode
		if err != nil || r.Recipient == "" {
			continue
		}
		candidates := [][]byte{r.Message}
		if r.Message == nil {
			candidates = nil
			for _, m := range messages[r.Msg] {
				candidates = append(candidates, readAt(f, m))
			}
		} else {
			r.Msg = r.Batch
		}
		for _, raw := range candidates {
			var m message.Message
			if raw != nil && json.Unmarshal(raw, &m) == nil {
				return salvaged{seq: seq, rec: r.record, msg: bytes.Clone(raw)}, true
			}
		}
	}
	return salvaged{}, false
}

// maxScanValue bounds a value read by a scan: far above any message the
// bridge stores, so that a garbage size does not take all memory.
const maxScanValue = 64 << 20

func readAt(f io.ReaderAt, s span) []byte {
	if s.n > maxScanValue {
		return nil
	}
	b := make([]byte, s.n)
	if _, err := f.ReadAt(b, s.off); err != nil {
		return nil
	}
	return b
}
