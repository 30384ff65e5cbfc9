package outbox_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// TestDoneWithoutClose checks that removals are remembered when the process
// ends without Close, whatever the journal's tail holds, and that a
// journal of format 1 (bare Seqs, before outcomes were recorded) is read.
func TestDoneWithoutClose(t *testing.T) {
	seq := func(s uint64) []byte { return binary.BigEndian.AppendUint64(nil, s) }
	// torn is a done record whose CRC does not match, as a write cut short
	// by a crash leaves it, for the second entry, which is not done.
	torn := append(append([]byte{'d'}, seq(2)...), 0, 0, 0, 0, 1, 2, 3, 4)
	tests := []struct {
		name string
		// journal turns the journal the outbox left into the one the
		// crashed process leaves; done are the Seqs done before the crash.
		journal func(b []byte, done []uint64) []byte
	}{
		{"records only", func(b []byte, _ []uint64) []byte { return b }},
		{"record cut short", func(b []byte, _ []uint64) []byte { return atRecordsEnd(t, b, torn[:5]) }},
		{"record torn", func(b []byte, _ []uint64) []byte { return atRecordsEnd(t, b, torn) }},
		{"format 1", func(_ []byte, done []uint64) []byte {
			var b []byte
			for _, s := range append(done, 0, 1<<60) { // unknown Seqs are ignored
				b = append(b, seq(s)...)
			}
			return append(b, 0, 0, 0) // and a record cut short
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			o := open(t, path, 100)
			entries := stored(add(t, o, t0, item("", "x", "alice", "bob", "carol", "dave")))
			// Done twice and with an unknown seq: removed once, the rest ignored.
			for _, seqs := range [][]uint64{{entries[0].Seq}, {entries[2].Seq, entries[0].Seq, 1 << 50}} {
				if err := o.Done(seqs...); err != nil {
					t.Fatal(err)
				}
			}
			want := []outbox.Ref{entries[1], entries[3]}
			if got := pending(t, o); !reflect.DeepEqual(got, want) {
				t.Fatalf("Pending before the crash = %+v, want %+v", got, want)
			}

			crashed := crashCopy(t, path, func(b []byte) []byte { return tt.journal(b, []uint64{entries[0].Seq, entries[2].Seq}) })
			c := open(t, crashed, 100)
			if got := pending(t, c); !reflect.DeepEqual(got, want) {
				t.Fatalf("Pending after the crash = %+v, want %+v", got, want)
			}
			if b, err := os.ReadFile(crashed + ".done"); err != nil || !emptyJournal(b) {
				t.Errorf("journal after Open: %v, %d bytes %q…; want it applied and emptied", err, len(b), b[:min(len(b), 40)])
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(crashed + ".done"); !os.IsNotExist(err) {
				t.Errorf("journal after Close: %v; want it removed", err)
			}
			c = open(t, crashed, 100)
			if got := pending(t, c); !reflect.DeepEqual(got, want) {
				t.Fatalf("Pending after a clean restart = %+v, want %+v", got, want)
			}
		})
	}
}

// journalMagic begins a journal of format 2 (outbox/journal.go).
const journalMagic = "MBJ2"

// emptyJournal reports whether b is a journal of format 2 with no records:
// the magic, then zeros.
func emptyJournal(b []byte) bool {
	return bytes.HasPrefix(b, []byte(journalMagic)) && bytes.Count(b, []byte{0}) == len(b)-len(journalMagic)
}

// atRecordsEnd writes tail into the journal b where its records end: at
// the first zero after the magic, records of entries done being 17 bytes
// each.
func atRecordsEnd(t *testing.T, b, tail []byte) []byte {
	t.Helper()
	i := len(journalMagic)
	for i < len(b) && b[i] != 0 {
		i += 17
	}
	if i+len(tail) > len(b) {
		t.Fatalf("journal of %d bytes has no room after its records at %d", len(b), i)
	}
	b = bytes.Clone(b)
	copy(b[i:], tail)
	return b
}

// crashCopy copies the outbox at path as a process killed now would leave
// it, its journal changed by journal, and returns the copy's path.
func crashCopy(t *testing.T, path string, journal func([]byte) []byte) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, suffix := range []string{"", ".done"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == ".done" {
			b = journal(b)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestDoneAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10)
	seq := stored(add(t, o, t0, item("", "x", "alice")))[0].Seq
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Done(seq); err == nil {
		t.Fatal("Done after Close succeeded")
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	o = open(t, path, 10)
	if o.Len() != 1 {
		t.Fatalf("Len() = %d after a Done that failed, want 1", o.Len())
	}
}
