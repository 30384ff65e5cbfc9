package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"slices"
)

// The journal is a file beside the database (its name with ".done"
// appended) of what happened to entries since the last compaction: which
// are done, and which have an outcome recorded whose result the broker has
// not acknowledged yet. Records are written without fsync: the page cache
// outlives a killed process, and a record lost to a power cut only means
// that an entry is delivered, or its result published, again. A stale
// record is harmless, because Seqs are never reused.
//
// Journal format 1 (before outcomes were recorded) is a bare list of
// big-endian Seqs, each an entry done. Format 2 begins with journalMagic;
// each record then is kind (1 byte), Seq (8), payload length (4), the
// CRC-32 (IEEE) of the rest of the record (4), and the payload. A record
// cut short or torn by a crash fails its CRC, and reading stops there: its
// write never returned. Past the records the file is zeros, written ahead
// (see journalReserve), and a zero kind ends the records too.
const journalMagic = "MBJ2"

// Record kinds of journal format 2.
const (
	kindDone    byte = 'd' // the entry is done; no payload
	kindOutcome byte = 'o' // the payload is the entry's result, to publish
)

// recordHeader is the size of a format 2 record without its payload.
const recordHeader = 1 + 8 + 4 + 4

// maxOutcome bounds the payload of one outcome record. A result is a few
// hundred bytes; anything larger is not one.
const maxOutcome = 1 << 20

// journalReserve is how much room the journal keeps written ahead of its
// records, as zeros. Records go into blocks the file already has, so that
// a full disk does not stop the bridge recording what it delivered: when
// the reserve cannot be extended, Writable says so and the bridge stops
// taking messages, while deliveries in flight are still recorded in what
// is left of the reserve. (On copy-on-write file systems such as btrfs or
// ZFS, overwriting a block takes a new one, and this protects less.)
const journalReserve = 256 << 10

func journalPath(dbPath string) string { return dbPath + ".done" }

// journalRecords is what a journal file holds.
type journalRecords struct {
	done     []uint64          // sorted, unique
	outcomes map[uint64][]byte // recorded and not done
}

// readJournal returns what the journal at path records, nothing if there
// is no file.
func readJournal(path string) (journalRecords, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return journalRecords{}, nil
	}
	if err != nil {
		return journalRecords{}, fmt.Errorf("read journal: %w", err)
	}
	recs := journalRecords{outcomes: make(map[uint64][]byte)}
	if !bytes.HasPrefix(b, []byte(journalMagic)) {
		// Format 1: whole records only.
		for ; len(b) >= 8; b = b[8:] {
			recs.done = append(recs.done, binary.BigEndian.Uint64(b))
		}
	} else {
		for b = b[len(journalMagic):]; len(b) >= recordHeader && b[0] != 0; {
			kind, seq, n := b[0], binary.BigEndian.Uint64(b[1:9]), binary.BigEndian.Uint32(b[9:13])
			if n > maxOutcome || int(n) > len(b)-recordHeader ||
				recordSum(b[:13], b[recordHeader:recordHeader+int(n)]) != binary.BigEndian.Uint32(b[13:17]) {
				break // torn by a crash
			}
			switch kind {
			case kindDone:
				recs.done = append(recs.done, seq)
			case kindOutcome:
				recs.outcomes[seq] = bytes.Clone(b[recordHeader : recordHeader+int(n)])
			}
			b = b[recordHeader+int(n):]
		}
	}
	slices.Sort(recs.done)
	recs.done = slices.Compact(recs.done)
	for _, seq := range recs.done {
		delete(recs.outcomes, seq)
	}
	return recs, nil
}

// recordSum is a record's CRC: of its kind, Seq and length (head), then
// its payload.
func recordSum(head, payload []byte) uint32 {
	return crc32.Update(crc32.ChecksumIEEE(head), crc32.IEEETable, payload)
}

// journal is the open journal of a running outbox; Outbox.doneMu guards it.
type journal struct {
	f        *os.File
	size     int64 // bytes of the magic and whole records; a failed write is overwritten
	reserved int64 // bytes of the file written, records and zeros ahead
	seqs     map[uint64]struct{}
	// outcomes are the outcome records since the last compaction, which
	// compaction moves into the database.
	outcomes map[uint64][]byte
}

// createJournal creates an empty journal at path, replacing any file there,
// with journalReserve bytes written ahead.
func createJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &journal{f: f, seqs: make(map[uint64]struct{}), outcomes: make(map[uint64][]byte)}
	if err := j.start(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// start writes the magic at the beginning of the file, followed by zeros
// up to the reserve.
func (j *journal) start() error {
	if _, err := j.f.WriteAt([]byte(journalMagic), 0); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.size = int64(len(journalMagic))
	j.reserved = max(j.reserved, j.size)
	return j.reserve()
}

// reserve writes zeros ahead of the records until journalReserve bytes are
// free past them. It fails when the disk is full; what is reserved
// already stays usable.
func (j *journal) reserve() error {
	want := j.size + journalReserve
	if j.reserved >= want {
		return nil
	}
	n, err := j.f.WriteAt(make([]byte, want-j.reserved), j.reserved)
	j.reserved += int64(n)
	if err != nil {
		return fmt.Errorf("reserve room in the journal: %w", err)
	}
	return nil
}

// probe writes the zero that ends the records again, then makes sure of
// the reserve: it fails while the journal cannot be written.
func (j *journal) probe() error {
	if _, err := j.f.WriteAt([]byte{0}, j.size); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.reserved = max(j.reserved, j.size+1)
	return j.reserve()
}

func (j *journal) len() int { return len(j.seqs) }

func (j *journal) has(seq uint64) bool {
	_, ok := j.seqs[seq]
	return ok
}

func (j *journal) sorted() []uint64 { return slices.Sorted(maps.Keys(j.seqs)) }

// add records seqs as done with one write.
func (j *journal) add(seqs []uint64) error {
	var buf []byte
	for _, seq := range seqs {
		buf = appendRecord(buf, kindDone, seq, nil)
	}
	if err := j.write(buf); err != nil {
		return err
	}
	for _, seq := range seqs {
		j.seqs[seq] = struct{}{}
		delete(j.outcomes, seq)
	}
	return nil
}

// record records an entry's outcome.
func (j *journal) record(seq uint64, outcome []byte) error {
	if err := j.write(appendRecord(nil, kindOutcome, seq, outcome)); err != nil {
		return err
	}
	j.outcomes[seq] = outcome
	return nil
}

// write writes records after the last whole one. Once they are written it
// extends the reserve, and reports an error if it cannot: the records are
// in the journal even then.
func (j *journal) write(buf []byte) error {
	// WriteAt, not append: after a short write the next record goes where
	// the torn one began, and the CRC tells the torn one from a whole one.
	if _, err := j.f.WriteAt(buf, j.size); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.size += int64(len(buf))
	j.reserved = max(j.reserved, j.size)
	if j.reserved-j.size < journalReserve/2 {
		return j.reserve()
	}
	return nil
}

func appendRecord(buf []byte, kind byte, seq uint64, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	head := buf[start:]
	sum := recordSum(head, payload)
	buf = binary.BigEndian.AppendUint32(buf, sum)
	return append(buf, payload...)
}

// reset forgets every record, once they are applied to the database: the
// used part of the file goes back to zeros, which also keeps its blocks.
func (j *journal) reset() error {
	clear(j.seqs)
	clear(j.outcomes)
	if _, err := j.f.WriteAt(make([]byte, j.size), 0); err != nil {
		// The records are stale now; new ones simply follow them.
		return fmt.Errorf("clear journal: %w", err)
	}
	return j.start()
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
