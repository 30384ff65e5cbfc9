package outbox_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// TestDoneWithoutClose checks that removals are remembered when the process
// ends without Close, whatever the journal's tail holds.
func TestDoneWithoutClose(t *testing.T) {
	record := func(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
	tests := []struct {
		name string
		tail []byte // appended to the journal after the last Done
	}{
		{"records only", nil},
		{"record cut short", []byte{0, 0, 0}},
		{"unknown seqs", append(record(0), record(1<<60)...)},
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

			crashed := crashCopy(t, path, tt.tail)
			c := open(t, crashed, 100)
			if got := pending(t, c); !reflect.DeepEqual(got, want) {
				t.Fatalf("Pending after the crash = %+v, want %+v", got, want)
			}
			if info, err := os.Stat(crashed + ".done"); err != nil || info.Size() != 0 {
				t.Errorf("journal after Open: %v, size %d; want it applied and emptied", err, info.Size())
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

// crashCopy copies the outbox at path as a process killed now would leave
// it, with tail appended to its journal, and returns the copy's path.
func crashCopy(t *testing.T, path string, tail []byte) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, suffix := range []string{"", ".done"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == ".done" {
			b = append(b, tail...)
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
